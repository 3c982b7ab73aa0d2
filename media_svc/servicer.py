"""MediaService RPCs. Until uploads land, every RPC answers UNIMPLEMENTED
(the generated base class)."""

from __future__ import annotations

from typing import Any

from pictor.media.v1 import media_pb2_grpc


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket
