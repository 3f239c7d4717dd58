// An Apollo Client for Patchbay: possibleTypes generated from schema.graphql, so that the
// cache matches fragments on a union's members and on the `Error` interface; optionally
// Apollo's automatic persisted queries, hashing with node's own sha256.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import persistedQueryLists from "@apollo/persisted-query-lists"; // CommonJS: no named exports

const { generatePersistedQueryIdsFromManifest } = persistedQueryLists;

const GENERATED = new URL("./generated/possible-types.json", import.meta.url);

/** `npm run codegen` writes them; without them `... on Error` matches nothing in the cache. */
export const possibleTypes = JSON.parse(readFileSync(GENERATED, "utf8")).possibleTypes;

export function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

export function createClient({
  url,
  token,
  persistedQueries = false,
  useGETForHashedQueries = false,
  possibleTypes: types = possibleTypes,
  fetch = globalThis.fetch,
}) {
  const http = new HttpLink({
    uri: url,
    fetch,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  return new ApolloClient({
    link: persistedQueries
      ? new PersistedQueryLink({ sha256, useGETForHashedQueries }).concat(http)
      : http,
    cache: new InMemoryCache({ possibleTypes: types }),
  });
}

/**
 * The client an app ships where only trusted documents run: it sends each operation's id from
 * the manifest `npm run manifest` wrote (Apollo's generate-persisted-query-manifest, from
 * these sources), never the document itself.
 */
export function createTrustedClient({ url, token, manifest, fetch = globalThis.fetch }) {
  const http = new HttpLink({
    uri: url,
    fetch,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const ids = new PersistedQueryLink(
    generatePersistedQueryIdsFromManifest({ loadManifest: async () => manifest }),
  );
  return new ApolloClient({
    link: ids.concat(http),
    cache: new InMemoryCache({ possibleTypes }),
  });
}
