"""Patchbay's rules: plain Python that takes a principal, an id and a patch.

Nothing here imports Strawberry, Starlette or `gateway`, so another front (a REST
route, a CLI) can call the same rules unchanged.
"""
