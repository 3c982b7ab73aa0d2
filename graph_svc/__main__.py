from graph_svc.server import serve
from pictor.service import main

main("graph", serve)
