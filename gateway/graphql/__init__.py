"""The GraphQL front: Strawberry's view with Patchbay's transport rules, persisted
queries and GraphiQL. It imports nothing of another front."""
