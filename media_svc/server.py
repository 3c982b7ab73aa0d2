"""Wiring: opens the S3 client, builds the servicer, serves until SIGTERM."""

from __future__ import annotations

from media_svc.servicer import MediaServicer
from pictor.config import Settings
from pictor.media.v1 import media_pb2, media_pb2_grpc
from pictor.s3 import open_s3
from pictor.service import Servicer, run_server


async def serve(settings: Settings) -> None:
    async with open_s3(settings) as s3:
        await run_server(
            "media",
            settings,
            [
                Servicer(
                    MediaServicer(s3, settings.s3_bucket),
                    media_pb2_grpc.add_MediaServiceServicer_to_server,
                    media_pb2.DESCRIPTOR.services_by_name["MediaService"].full_name,
                )
            ],
        )
