from feed_svc.config import FeedSettings
from feed_svc.server import serve
from pictor.service import main

main("feed_svc", FeedSettings, serve)
