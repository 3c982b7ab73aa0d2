from feed_svc.server import serve
from pictor.service import main

main("feed", serve)
