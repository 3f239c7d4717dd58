"""The HTTP side of Patchbay, one room per job.

`http/` is the edge every request crosses (request id, masked 500, body limit, CORS,
health), `identity/` turns a credential into a Principal, `observe/` writes the access line
and the metrics, `graphql/` is the GraphQL front. `app.py` only wires them; `cli/` is the
command line. A front may use the rooms below it; those rooms never import a front.
"""
