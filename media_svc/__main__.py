from media_svc.server import serve
from pictor.service import main

main("media", serve)
