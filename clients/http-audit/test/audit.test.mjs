// The GraphQL over HTTP audit (graphql-http's auditServer) against a live Patchbay at
// PATCHBAY_URL: one node test per audit, which passes only when the audit is "ok" (a
// failed SHOULD is a "warn" and a failed MAY a "notice": both fail here too).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serverAudits } from 'graphql-http';

const url = process.env.PATCHBAY_URL;
assert.ok(url, 'PATCHBAY_URL is the live /graphql endpoint');

for (const { id, name, fn } of serverAudits({ url })) {
  test(`${id} ${name}`, async () => {
    const result = await fn();
    if (result.status === 'ok') return;
    const body = await result.response.text();
    assert.fail(
      `${result.status}: ${result.reason}\n` +
        `status ${result.response.status}, content-type ` +
        `${result.response.headers.get('content-type')}\n${body.slice(0, 500)}`,
    );
  });
}
