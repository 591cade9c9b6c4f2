"""The one process `vidrag serve` starts: Streamlit's st.App (Starlette) with our routes on it.

- `/`: the web app (vidrag/web/app.py and its pages), as `streamlit run` serves it;
- the library's videos with range requests (vidrag/web/video_route.py);
- `/api/v1`: the HTTP API (vidrag/server/api.py), its schema at /api/v1/openapi.json;
- `/mcp`: MCP over streamable HTTP, the same tools as `vidrag mcp`.

All of them share one library and one durable ingest queue (vidrag/server/services.py). On
startup the queue resumes what a killed server left, and the server records its URL in the data
folder for the CLI (vidrag/server/record.py). VIDRAG_API_TOKEN guards every route
(vidrag/server/auth.py); VIDRAG_MAX_UPLOAD_MB caps API bodies (vidrag/server/limits.py).
"""

from __future__ import annotations

import contextlib
import logging

from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from rag.settings import Settings
from vidrag.server.api import API_PREFIX, build_api
from vidrag.server.auth import TokenGate, check_bind, is_loopback
from vidrag.server.limits import BodyLimit
from vidrag.server.record import remove_record, write_record
from vidrag.server.services import services
from vidrag.web.navigation import APP_SCRIPT
from vidrag.web.video_route import video_routes

log = logging.getLogger(__name__)


def app_parts(settings: Settings) -> dict:
    """st.App's arguments: vidrag/web/server.py writes `app = st.App(...)` itself, since
    `streamlit run` finds an ASGI app by reading the script, not by running it."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from mcp.server.transport_security import TransportSecuritySettings

    from vidrag.mcp_server import build_server

    host, port = _address(settings)
    check_bind(host, settings.api_token, settings.published_bind)
    mcp = build_server(settings, open_library=lambda: services(settings).library)
    # Loopback: the SDK's DNS-rebinding guard. Beyond it the token guards every request instead.
    security = None if is_loopback(host) else TransportSecuritySettings(enable_dns_rebinding_protection=False)
    # Called for its side effect: it creates the session manager that the /mcp route and the
    # lifespan use (the Starlette app it returns is not needed; ours serves the route).
    mcp.streamable_http_app(streamable_http_path="/mcp", host=host if is_loopback(host) else "0.0.0.0",
                            transport_security=security)
    mcp_endpoint = StreamableHTTPASGIApp(mcp.session_manager)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        opened = services(settings)  # the library opens, the ingest workers start and resume
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
        write_record(settings.data_dir, url)
        try:
            async with mcp.session_manager.run():
                yield {}
        finally:
            remove_record(settings.data_dir)
            opened.jobs.close()
            if opened.ingestor.workers is not None:  # a job in flight is queued again, for the next start
                opened.ingestor.workers.close()

    routes = [
        *video_routes(settings),
        Mount(API_PREFIX, app=build_api(lambda: services(settings))),
        Route("/mcp", endpoint=mcp_endpoint, methods=["GET", "POST", "DELETE"]),
    ]
    middleware = [Middleware(TokenGate, token=settings.api_token),
                  Middleware(BodyLimit, max_bytes=settings.max_upload_mb << 20)]
    return {"script_path": str(APP_SCRIPT), "routes": routes, "middleware": middleware, "lifespan": lifespan}


def _address(settings: Settings) -> tuple[str, int]:
    """Where Streamlit listens: its server.address (vidrag serve passes VIDRAG_BIND or --host)."""
    from streamlit import config

    host = config.get_option("server.address") or settings.bind
    return host, int(config.get_option("server.port") or 8501)
