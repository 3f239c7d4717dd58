// What a typed frontend does with updatePrompt's result: narrow the UpdatePromptResult union
// by `__typename`. `tsc --noEmit` checks this against the types generated from schema.graphql
// and src/documents.mjs (`npm run codegen`); a new union member fails to compile below.
import type { ErrorFieldsFragment, UpdatePromptMutation } from "./generated/graphql.js";
import type { UpdatePromptResult as SchemaUpdatePromptResult } from "./generated/schema.js";

/** The UpdatePromptResult union, as src/documents.mjs selects it. */
export type UpdatePromptResult = UpdatePromptMutation["updatePrompt"];

// The document tells every member of the schema's union apart, and no other type.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const everyMemberSelected: Same<
  UpdatePromptResult["__typename"],
  SchemaUpdatePromptResult["__typename"]
> = true;

export function describeUpdate(result: UpdatePromptResult): string {
  switch (result.__typename) {
    case "UpdatePromptSuccess": {
      const { name, updatedAt, updatedBy, version } = result.prompt;
      const verb = result.written ? "saved" : "checked";
      return `${verb} ${name} (version ${version}) at ${updatedAt} by ${updatedBy}`;
    }
    case "ValidationError":
      return `${result.code}: ${result.fields.map((f) => `${f.field} ${f.code}`).join(", ")}`;
    case "ConflictError": {
      // a stale expectedVersion names the version to reload (null for a name conflict)
      const current: number | null | undefined = result.currentVersion;
      const fields = result.fields.map((f) => `${f.field} ${f.code}`).join(", ");
      return `${result.code}: ${fields}${current == null ? "" : ` (now version ${current})`}`;
    }
    case "ForbiddenError":
      return `${result.code}: ${result.requiredScope ?? "only the owner may do this"}`;
    case "NotFoundError":
      return `${result.code}: no ${result.resource} ${result.id}`;
    case "UnauthorizedError":
      return `${result.code}: ${result.message} (request ${result.requestId})`;
    default: {
      const unhandled: never = result;
      return unhandled;
    }
  }
}

/** Every member but the success implements `Error`: one narrowing gives code and message. */
export function errorOf(result: UpdatePromptResult): ErrorFieldsFragment | null {
  return result.__typename === "UpdatePromptSuccess" ? null : result;
}

export function updatedPromptId(result: UpdatePromptResult): string | null {
  // @ts-expect-error `prompt` exists only on UpdatePromptSuccess: the union must be narrowed
  const unnarrowed: string = result.prompt.id;
  void unnarrowed;
  return result.__typename === "UpdatePromptSuccess" ? result.prompt.id : null;
}
