"""One GraphQL type per module, each built from its protobuf message by ``from_proto``."""
