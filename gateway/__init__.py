"""The GraphQL edge: Strawberry on Starlette, speaking gRPC to the services."""
