"""Strawberry types and the schema object: Patchbay's public GraphQL interface."""
