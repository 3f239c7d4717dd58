"""Before serving: GraphiQL's files into the user's cache, unless PATCHBAY_GRAPHIQL_ASSETS
names a directory of them. A failure is one line; the page then says what to do."""

from __future__ import annotations

import sys

from gateway.graphql.graphiql import GraphiQLAssetsError, default_cache
from gateway.graphql.graphiql_download import fetch_graphiql
from gateway.settings import Settings


def prepare_graphiql(settings: Settings) -> None:
    if not settings.graphiql or settings.graphiql_assets is not None:
        return
    cache = default_cache()
    try:
        fetched = fetch_graphiql(cache, registry=settings.graphiql_registry)
    except GraphiQLAssetsError as error:
        print(
            f"patchbay: GraphiQL's files could not be fetched ({error}); /graphql will say "
            "how to get them (PATCHBAY_GRAPHIQL_ASSETS or PATCHBAY_GRAPHIQL_REGISTRY)",
            file=sys.stderr,
        )
        return
    if fetched:
        print(f"patchbay: GraphiQL's files fetched into {cache}", file=sys.stderr)
