"""The REST front: the seed pages' own endpoints, on the resolvers GraphQL uses."""
