from graph_svc.config import GraphSettings
from graph_svc.server import serve
from pictor.service import main

main("graph_svc", GraphSettings, serve)
