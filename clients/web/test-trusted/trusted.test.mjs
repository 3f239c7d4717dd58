// The app's own documents against a Patchbay that runs trusted documents only
// (PATCHBAY_TRUSTED_DOCUMENTS_POLICY=enforce, its manifest made by `npm run manifest`), with
// an app's credential: no graphql:freeform scope. tests/test_web_client.py starts the gateway:
//   PATCHBAY_URL=… PATCHBAY_TOKEN=<app token> PATCHBAY_MANIFEST=persisted-query-manifest.json
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";

import { gql } from "@apollo/client";

import { createClient, createTrustedClient } from "../src/client.mjs";
import { PROMPT, UPDATE_PROMPT, VIEWER } from "../src/documents.mjs";

const url = process.env.PATCHBAY_URL;
const token = process.env.PATCHBAY_TOKEN; // alice of acme, the app's scopes only
const manifest = JSON.parse(readFileSync(process.env.PATCHBAY_MANIFEST, "utf8"));
const ALICES_PROMPT = "prm_acme_welcome";

/** A fetch that remembers each request's body, to show what went over the wire. */
function recordingFetch() {
  const bodies = [];
  async function fetch(input, init) {
    bodies.push(JSON.parse(init.body));
    return globalThis.fetch(input, init);
  }
  return { fetch, bodies };
}

describe("an app's documents run by their ids from the generated manifest", () => {
  test("the manifest is Apollo's format and holds the app's operations", () => {
    assert.equal(manifest.format, "apollo-persisted-query-manifest");
    const names = manifest.operations.map((operation) => operation.name).sort();
    assert.deepEqual(names, ["Prompt", "UpdatePrompt", "Viewer"]);
  });

  test("a query runs, sent as an id without its document", async () => {
    const { fetch, bodies } = recordingFetch();
    const app = createTrustedClient({ url, token, manifest, fetch });
    const { data } = await app.query({ query: PROMPT, variables: { id: ALICES_PROMPT } });
    assert.equal(data.prompt.__typename, "Prompt");
    assert.equal(data.prompt.id, ALICES_PROMPT);
    assert.equal(bodies[0].query, undefined);
    assert.match(bodies[0].extensions.persistedQuery.sha256Hash, /^[0-9a-f]{64}$/);
  });

  test("a mutation runs by its id, with expectedVersion", async () => {
    const app = createTrustedClient({ url, token, manifest });
    const { data: read } = await app.query({ query: PROMPT, variables: { id: ALICES_PROMPT } });
    const { data } = await app.mutate({
      mutation: UPDATE_PROMPT,
      variables: {
        id: ALICES_PROMPT,
        input: { description: "Set through a trusted document", expectedVersion: read.prompt.version },
      },
    });
    assert.equal(data.updatePrompt.__typename, "UpdatePromptSuccess");
    assert.equal(data.updatePrompt.prompt.version, read.prompt.version + 1);
  });

  test("the viewer query runs and reports its cost", async () => {
    const app = createTrustedClient({ url, token, manifest });
    const { data } = await app.query({ query: VIEWER });
    assert.equal(data.viewer.__typename, "Viewer");
    assert.equal(data.viewer.subject, "alice");
  });
});

describe("anything else is refused for an app's credential", () => {
  test("a free-form document is 403 TRUSTED_DOCUMENTS_ONLY", async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: "{ viewer { __typename } }" }),
    });
    assert.equal(response.status, 403);
    const body = await response.json();
    assert.equal(body.errors[0].extensions.code, "TRUSTED_DOCUMENTS_ONLY");
    assert.equal("data" in body, false);
  });

  test("a document outside the manifest, through Apollo Client, is refused too", async () => {
    const other = gql`
      query NotShipped {
        viewer {
          __typename
        }
      }
    `;
    const app = createClient({ url, token }); // sends the document itself
    await assert.rejects(app.query({ query: other }), /Only trusted documents run here/);
  });
});
