// Subscriptions with the npm `graphql-ws` client (graphql-transport-ws) against a live
// Patchbay (tests/test_web_client.py starts one): a change made over HTTP reaches a
// subscriber of the prompt, and a connection without a credential is closed with 4403.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { createClient } from "graphql-ws";
import WebSocket from "ws";

const url = process.env.PATCHBAY_URL;
const token = process.env.PATCHBAY_TOKEN; // alice of acme, all scopes
if (!url || !token) {
  throw new Error("set PATCHBAY_URL (…/graphql) and PATCHBAY_TOKEN (alice's JWT)");
}
const wsUrl = url.replace(/^http/, "ws");
const ALICES_PROMPT = "prm_acme_welcome";
const PROMPT_CHANGED = `subscription ($id: ID) {
  promptChanged(id: $id) {
    entry { version changes { field before after } actor { subject } }
    prompt { id title version }
  }
}`;

function client(connectionParams) {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0 });
}

async function setTitle(title) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: "mutation ($id: ID!, $title: String) { updatePrompt(id: $id, input: {title: $title}) { __typename } }",
      variables: { id: ALICES_PROMPT, title },
    }),
  });
  const body = await response.json();
  assert.equal(body.data.updatePrompt.__typename, "UpdatePromptSuccess");
}

test("a change reaches the prompt's subscriber with its history entry", async () => {
  const subscriber = client({ Authorization: `Bearer ${token}` });
  const title = `live-${randomUUID()}`;
  try {
    const events = subscriber.iterate({ query: PROMPT_CHANGED, variables: { id: ALICES_PROMPT } });
    const first = events.next(); // subscribes
    await new Promise((resolve) => setTimeout(resolve, 500));
    await setTitle(title);
    // other tests write the same prompt: wait for this title's change
    let result = await first;
    while (result.value?.data?.promptChanged.prompt.title !== title) {
      assert.equal(result.done, false, "the stream ended before the change arrived");
      result = await events.next();
    }
    const change = result.value.data.promptChanged;
    assert.equal(change.prompt.id, ALICES_PROMPT);
    assert.equal(change.entry.version, change.prompt.version);
    assert.deepEqual(change.entry.actor, { subject: "alice" });
    assert.deepEqual(
      change.entry.changes.map(({ field, after }) => [field, after]),
      [["title", title]],
    );
    await events.return();
  } finally {
    await subscriber.dispose();
  }
});

test("a connection without a credential is closed with 4403", async () => {
  const anonymous = client({});
  try {
    const closed = await new Promise((resolve) => {
      anonymous.subscribe(
        { query: PROMPT_CHANGED },
        { next: () => {}, error: resolve, complete: () => resolve(null) },
      );
    });
    assert.equal(closed?.code, 4403);
  } finally {
    await anonymous.dispose();
  }
});
