from feed_svc.server import serve
from pictor.config import Settings
from pictor.service import main

main("feed_svc", Settings, serve)
