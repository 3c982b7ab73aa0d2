"""Code shared by Pictor's services: settings, logging, tracing, gRPC plumbing and
datastore access. The generated protobuf modules live beside it under pictor/<svc>/v1."""
