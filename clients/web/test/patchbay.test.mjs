// Apollo Client against a live Patchbay (tests/test_web_client.py starts one):
//   PATCHBAY_URL=http://127.0.0.1:8000/graphql PATCHBAY_TOKEN=<alice's JWT> npm test
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";

import { gql } from "@apollo/client";
import { print } from "graphql";

import { createClient, sha256 } from "../src/client.mjs";
import { PROMPT, UPDATE_PROMPT, VIEWER } from "../src/documents.mjs";

const url = process.env.PATCHBAY_URL;
const token = process.env.PATCHBAY_TOKEN; // alice of acme, all scopes
if (!url || !token) {
  throw new Error("set PATCHBAY_URL (…/graphql) and PATCHBAY_TOKEN (alice's JWT)");
}

const ALICES_PROMPT = "prm_acme_welcome";
const BOBS_PROMPT = "prm_acme_hold_music";

/** A fetch that remembers what each request sent and how Patchbay answered. */
function recordingFetch() {
  const exchanges = [];
  async function fetch(input, init) {
    const response = await globalThis.fetch(input, init);
    const text = await response.clone().text();
    const answer = response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
    const method = init?.method ?? "GET";
    const body = method === "GET" ? fromURL(input) : JSON.parse(init.body);
    exchanges.push({ method, body, answer });
    return response;
  }
  return { fetch, exchanges };
}

/** A GET request's parameters, decoded like a POST body. */
function fromURL(input) {
  const parameters = new URL(input).searchParams;
  const json = (name) => (parameters.has(name) ? JSON.parse(parameters.get(name)) : undefined);
  return {
    query: parameters.get("query") ?? undefined,
    variables: json("variables"),
    extensions: json("extensions"),
  };
}

/** The same operation under a new name: a document this server has never seen. */
function unseen(document) {
  const name = `${document.definitions[0].name.value}_${randomUUID().replaceAll("-", "")}`;
  return gql(print(document).replace(/^(query|mutation) \w+/, `$1 ${name}`));
}

async function updatePrompt(client, id, input, dryRun = false) {
  const variables = { id, input, dryRun };
  const { data } = await client.mutate({ mutation: UPDATE_PROMPT, variables });
  return data.updatePrompt;
}

describe("updatePrompt's union, read through fragments on its members and on Error", () => {
  const alice = createClient({ url, token });

  test("alice edits her prompt: UpdatePromptSuccess", async () => {
    // when
    const result = await updatePrompt(alice, ALICES_PROMPT, {
      description: "Set by Apollo Client",
      tags: ["apollo", "node", "apollo"],
    });
    // then
    assert.equal(result.__typename, "UpdatePromptSuccess");
    assert.equal(result.prompt.id, ALICES_PROMPT);
    assert.equal(result.prompt.description, "Set by Apollo Client");
    assert.deepEqual(result.prompt.tags, ["apollo", "node"]);
    assert.equal(result.prompt.updatedBy, "alice");
    assert.equal(result.prompt.updatedUserName, "Alice Archer");
  });

  test("a prompt that does not exist: NotFoundError", async () => {
    const result = await updatePrompt(alice, "prm_does_not_exist", { title: "Hi" });
    assert.equal(result.__typename, "NotFoundError");
    assert.equal(result.code, "NOT_FOUND"); // from `...ErrorFields` (on Error)
    assert.equal(result.message, "prompt not found");
    assert.match(result.requestId, /^\S+$/);
    assert.equal(result.resource, "prompt"); // from `...NotFoundErrorFields`
    assert.equal(result.id, "prm_does_not_exist");
  });

  test("bob's prompt, for alice: ForbiddenError without a scope to ask for", async () => {
    const result = await updatePrompt(alice, BOBS_PROMPT, { title: "Mine now" });
    assert.equal(result.__typename, "ForbiddenError");
    assert.equal(result.code, "FORBIDDEN");
    assert.equal(result.requiredScope, null);
  });

  test("every broken rule at once: ValidationError with its fields", async () => {
    const result = await updatePrompt(alice, ALICES_PROMPT, { name: null, title: "" });
    assert.equal(result.__typename, "ValidationError");
    assert.equal(result.code, "VALIDATION_FAILED");
    assert.deepEqual(
      result.fields.map(({ field, code }) => [field, code]),
      [
        ["name", "REQUIRED"],
        ["title", "TOO_SHORT"],
      ],
    );
  });

  test("no credential: UnauthorizedError", async () => {
    const anonymous = createClient({ url, token: null });
    const result = await updatePrompt(anonymous, ALICES_PROMPT, { title: "Hi" });
    assert.equal(result.__typename, "UnauthorizedError");
    assert.equal(result.code, "UNAUTHORIZED");
    assert.equal(result.message, "authentication failed");
  });
});

describe("a form saves with the version it loaded (expectedVersion)", () => {
  const alice = createClient({ url, token });

  test("the loaded version saves; a stale one is a ConflictError with the current version", async () => {
    // given: the form loads the prompt
    const { data } = await alice.query({ query: PROMPT, variables: { id: ALICES_PROMPT } });
    const loaded = data.prompt.version;
    // when: it saves with that version, then another save still holds the old one
    const saved = await updatePrompt(alice, ALICES_PROMPT, {
      title: "Saved by version",
      expectedVersion: loaded,
    });
    const stale = await updatePrompt(alice, ALICES_PROMPT, {
      title: "Lost update",
      expectedVersion: loaded,
    });
    // then
    assert.equal(saved.__typename, "UpdatePromptSuccess");
    assert.equal(saved.prompt.version, loaded + 1);
    assert.equal(stale.__typename, "ConflictError");
    assert.deepEqual(
      stale.fields.map(({ field, code }) => [field, code]),
      [["expectedVersion", "STALE"]],
    );
    assert.equal(stale.currentVersion, loaded + 1);
    assert.equal(stale.currentUpdatedAt, saved.prompt.updatedAt);
  });

  test("dryRun validates the form and saves nothing", async () => {
    const { data } = await alice.query({
      query: PROMPT,
      variables: { id: ALICES_PROMPT },
      fetchPolicy: "network-only",
    });
    const checked = await updatePrompt(
      alice,
      ALICES_PROMPT,
      { title: "Only checked", expectedVersion: data.prompt.version },
      true,
    );
    assert.equal(checked.__typename, "UpdatePromptSuccess");
    assert.equal(checked.written, false);
    const again = await alice.query({
      query: PROMPT,
      variables: { id: ALICES_PROMPT },
      fetchPolicy: "network-only",
    });
    assert.equal(again.data.prompt.version, data.prompt.version);
  });
});

describe("the cache needs the generated possibleTypes", () => {
  test("with them, `...on Error` is read back from the cache", async () => {
    const anonymous = createClient({ url, token: null });
    const { data } = await anonymous.query({ query: VIEWER });
    assert.equal(data.viewer.__typename, "UnauthorizedError");
    assert.equal(data.viewer.code, "UNAUTHORIZED");
    assert.match(data.viewer.requestId, /^\S+$/);
  });

  test("without them, the same answer silently loses the interface's fields", async () => {
    const anonymous = createClient({ url, token: null, possibleTypes: {} });
    const { data } = await anonymous.query({ query: VIEWER });
    assert.deepEqual(data, { viewer: { __typename: "UnauthorizedError" } });
  });

  test("a union member's own fragment: alice's viewer", async () => {
    const alice = createClient({ url, token });
    const { data } = await alice.query({ query: VIEWER });
    assert.equal(data.viewer.__typename, "Viewer");
    assert.equal(data.viewer.subject, "alice");
    assert.equal(data.viewer.organization.slug, "acme");
  });
});

describe("automatic persisted queries (Apollo's PersistedQueryLink)", () => {
  test("a new document: hash alone, PersistedQueryNotFound, then hash and document", async () => {
    // given
    const document = unseen(PROMPT);
    const first = recordingFetch();
    const client = createClient({ url, token, persistedQueries: true, fetch: first.fetch });
    // when
    const { data } = await client.query({ query: document, variables: { id: ALICES_PROMPT } });
    // then
    assert.equal(data.prompt.__typename, "Prompt");
    assert.equal(data.prompt.id, ALICES_PROMPT);
    assert.equal(first.exchanges.length, 2);
    const [asked, sent] = first.exchanges;
    assert.equal(asked.body.query, undefined);
    assert.equal(asked.answer.errors[0].message, "PersistedQueryNotFound");
    assert.equal(asked.answer.errors[0].extensions.code, "PERSISTED_QUERY_NOT_FOUND");
    assert.equal(asked.answer.data, undefined);
    assert.match(sent.body.query, new RegExp(`query ${document.definitions[0].name.value}\\(`));
    const hash = sha256(sent.body.query); // the document as sent (the cache adds __typename)
    assert.equal(asked.body.extensions.persistedQuery.sha256Hash, hash);
    assert.equal(sent.body.extensions.persistedQuery.sha256Hash, hash);

    // when: another client (a new page load) runs it again
    const second = recordingFetch();
    const again = createClient({ url, token, persistedQueries: true, fetch: second.fetch });
    const repeated = await again.query({ query: document, variables: { id: BOBS_PROMPT } });
    // then: the hash alone is enough now
    assert.equal(second.exchanges.length, 1);
    assert.equal(second.exchanges[0].body.query, undefined);
    assert.equal(second.exchanges[0].body.extensions.persistedQuery.sha256Hash, hash);
    assert.equal(repeated.data.prompt.id, BOBS_PROMPT);
  });

  test("a query by GET (cacheable by a CDN): hash alone in the URL", async () => {
    // given
    const document = unseen(PROMPT);
    const variables = { id: ALICES_PROMPT };
    const options = { url, token, persistedQueries: true, useGETForHashedQueries: true };
    const first = recordingFetch();
    await createClient({ ...options, fetch: first.fetch }).query({ query: document, variables });
    // when
    const second = recordingFetch();
    const client = createClient({ ...options, fetch: second.fetch });
    const { data } = await client.query({ query: document, variables });
    // then
    assert.equal(first.exchanges[0].method, "GET");
    assert.equal(first.exchanges[0].answer.errors[0].message, "PersistedQueryNotFound");
    assert.deepEqual(
      second.exchanges.map((e) => [e.method, e.body.query]),
      [["GET", undefined]],
    );
    assert.equal(data.prompt.id, ALICES_PROMPT);
  });

  test("a mutation through the link: union members and Error fragments as without it", async () => {
    const recorded = recordingFetch();
    const client = createClient({ url, token, persistedQueries: true, fetch: recorded.fetch });
    const mutation = unseen(UPDATE_PROMPT);
    const run = (id) => client.mutate({ mutation, variables: { id, input: { title: "Hello" } } });

    const success = (await run(ALICES_PROMPT)).data.updatePrompt;
    const missing = (await run("prm_does_not_exist")).data.updatePrompt;

    assert.equal(success.__typename, "UpdatePromptSuccess");
    assert.equal(success.prompt.title, "Hello");
    assert.equal(missing.__typename, "NotFoundError");
    assert.equal(missing.code, "NOT_FOUND");
    // first: hash, not found, hash + document; second: hash alone
    assert.deepEqual(
      recorded.exchanges.map((e) => e.body.query === undefined),
      [true, false, true],
    );
  });

  test("a document under another document's hash is refused, and not kept", async () => {
    // given
    const document = print(unseen(VIEWER));
    const wrongHash = sha256(`${document} `);
    const post = (body) =>
      fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    const persisted = (sha256Hash) => ({ persistedQuery: { version: 1, sha256Hash } });
    // when
    const refused = await post({ query: document, extensions: persisted(wrongHash) });
    // then
    assert.equal(refused.status, 400);
    const answer = await refused.json();
    assert.equal(answer.data, undefined);
    assert.match(answer.errors[0].message, /sha/i);
    // and: neither hash now stands for the document
    for (const hash of [wrongHash, sha256(document)]) {
      const later = await (await post({ extensions: persisted(hash) })).json();
      assert.equal(later.errors[0].message, "PersistedQueryNotFound");
    }
  });
});
