import type { CodegenConfig } from "@graphql-codegen/cli";

const common = {
  enumsAsTypes: true,
  useTypeImports: true,
  scalars: { DateTime: "string" },
};

// Types and Apollo's possibleTypes, generated from the committed schema and the documents
// the client really sends (src/documents.mjs). Output goes to src/generated/ (not committed).
const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/documents.mjs"],
  emitLegacyCommonJSImports: false,
  generates: {
    // Every type of the schema, e.g. the UpdatePromptResult union.
    "src/generated/schema.ts": {
      plugins: ["typescript"],
      config: { ...common, nonOptionalTypename: true },
    },
    // The result and variables of each operation in src/documents.mjs.
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations"],
      config: common,
    },
    "src/generated/possible-types.json": {
      plugins: ["fragment-matcher"],
    },
  },
};

export default config;
