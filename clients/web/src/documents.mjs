// The GraphQL documents this client sends. codegen reads them for the operation types and
// the tests send them, so the types checked by tsc are the types of the real requests.
import { gql } from "@apollo/client";

/** Every documented failure, whichever union member it is. */
export const ERROR_FIELDS = gql`
  fragment ErrorFields on Error {
    code
    message
    requestId
  }
`;

export const FIELD_ERROR_FIELDS = gql`
  fragment FieldErrorFields on FieldError {
    field
    code
    message
  }
`;

export const UPDATE_PROMPT_SUCCESS_FIELDS = gql`
  fragment UpdatePromptSuccessFields on UpdatePromptSuccess {
    written
    prompt {
      id
      name
      title
      description
      tags
      updatedAt
      updatedBy
      updatedUserName
      version
    }
  }
`;

export const VALIDATION_ERROR_FIELDS = gql`
  fragment ValidationErrorFields on ValidationError {
    fields {
      ...FieldErrorFields
    }
  }
  ${FIELD_ERROR_FIELDS}
`;

export const FORBIDDEN_ERROR_FIELDS = gql`
  fragment ForbiddenErrorFields on ForbiddenError {
    requiredScope
  }
`;

export const NOT_FOUND_ERROR_FIELDS = gql`
  fragment NotFoundErrorFields on NotFoundError {
    resource
    id
  }
`;

export const CONFLICT_ERROR_FIELDS = gql`
  fragment ConflictErrorFields on ConflictError {
    fields {
      ...FieldErrorFields
    }
    currentVersion
    currentUpdatedAt
  }
  ${FIELD_ERROR_FIELDS}
`;

/**
 * A form saves with the version it was loaded with (`input.expectedVersion`): a prompt
 * changed meanwhile is a ConflictError with its currentVersion, never a silent overwrite.
 * `dryRun: true` validates the form (every check, uniqueness included) without saving.
 */
export const UPDATE_PROMPT = gql`
  mutation UpdatePrompt($id: ID!, $input: UpdatePromptInput!, $dryRun: Boolean = false) {
    updatePrompt(id: $id, input: $input, dryRun: $dryRun) {
      __typename
      ...UpdatePromptSuccessFields
      ...ErrorFields
      ...ValidationErrorFields
      ...ForbiddenErrorFields
      ...NotFoundErrorFields
      ...ConflictErrorFields
    }
  }
  ${UPDATE_PROMPT_SUCCESS_FIELDS}
  ${ERROR_FIELDS}
  ${VALIDATION_ERROR_FIELDS}
  ${FORBIDDEN_ERROR_FIELDS}
  ${NOT_FOUND_ERROR_FIELDS}
  ${CONFLICT_ERROR_FIELDS}
`;

export const VIEWER = gql`
  query Viewer {
    viewer {
      __typename
      ... on Viewer {
        subject
        kind
        organization {
          id
          slug
        }
      }
      ...ErrorFields
    }
  }
  ${ERROR_FIELDS}
`;

export const PROMPT = gql`
  query Prompt($id: ID!) {
    prompt(id: $id) {
      __typename
      ... on Prompt {
        id
        name
        title
        version
      }
      ...ErrorFields
      ...NotFoundErrorFields
    }
  }
  ${ERROR_FIELDS}
  ${NOT_FOUND_ERROR_FIELDS}
`;
