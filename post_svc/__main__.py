from pictor.service import main
from post_svc.config import PostSettings
from post_svc.server import serve

main("post_svc", PostSettings, serve)
