"""Wiring: opens S3, Redis and a post_svc client, serves until SIGTERM."""

from __future__ import annotations

from media_svc.config import MediaSettings
from media_svc.kinds import AVATAR, POST, media_kinds
from media_svc.objects import RAW_UPLOAD_PREFIX, ObjectStore
from media_svc.servicer import MediaServicer
from media_svc.signing import UrlSigner
from media_svc.uploads import Uploads
from pictor.live import LiveChannels
from pictor.media.v1 import media_pb2, media_pb2_grpc
from pictor.s3 import open_s3
from pictor.service import Connections, Wiring, serve_service


async def serve(settings: MediaSettings) -> None:
    await serve_service("media", settings, _wire)


async def _wire(settings: MediaSettings, connections: Connections) -> Wiring:
    events = connections.redis()
    clients = connections.services()
    objects = ObjectStore(await connections.enter(open_s3(settings)), settings.s3_bucket)
    await objects.expire_raw_uploads(RAW_UPLOAD_PREFIX, settings.raw_upload_expiry_days)
    kinds = media_kinds(clients, objects, events)
    live = await connections.enter(LiveChannels(events).reading())
    uploads, avatars = (
        Uploads(objects, kinds[kind], events, settings, live) for kind in (POST, AVATAR)
    )
    return Wiring(
        MediaServicer(uploads, avatars, UrlSigner(objects, settings.media_url_ttl_seconds)),
        media_pb2_grpc.add_MediaServiceServicer_to_server,
        media_pb2.DESCRIPTOR,
    )
