import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from pictor.logs import configure_logging
from pictor.telemetry import configure_tracing

settings = GatewaySettings()
configure_logging("gateway", settings.log_level)
configure_tracing("gateway")
uvicorn.run(
    create_app(settings),
    host=settings.gateway_host,
    port=settings.gateway_port,
    loop="uvloop",
    log_config=None,
    access_log=False,
    timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
)
