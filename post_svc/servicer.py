"""PostService RPCs. Until the post lifecycle lands, every RPC answers UNIMPLEMENTED
(the generated base class)."""

from __future__ import annotations

from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2_grpc


class PostServicer(post_pb2_grpc.PostServiceServicer):
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql
