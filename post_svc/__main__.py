from pictor.config import Settings
from pictor.service import main
from post_svc.server import serve

main("post", Settings, serve)
