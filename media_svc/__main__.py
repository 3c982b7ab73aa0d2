from media_svc.server import serve
from pictor.config import Settings
from pictor.service import main

main("media", Settings, serve)
