from media_svc.config import MediaSettings
from media_svc.server import serve
from pictor.service import main

main("media_svc", MediaSettings, serve)
