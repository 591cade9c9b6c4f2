"""`vidrag serve|mcp`: the web app, and the library as an MCP server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from vidrag.cli import edge

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "web" / "server.py"
# What .streamlit/config.toml says for a checkout, given as flags so `vidrag serve` behaves the
# same from any folder (Streamlit reads that file from the working directory only).
STREAMLIT_FLAGS = (
    "--server.headless", "true", "--server.fileWatcherType", "none",
    "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none", "--browser.gatherUsageStats", "false",
)


@click.command()
@click.option("--port", type=int, default=8501, show_default=True, help="The port to listen on.")
@click.option("--host", default=None,
              help="The address to listen on (default VIDRAG_BIND, 127.0.0.1). Beyond loopback it needs "
                   "VIDRAG_API_TOKEN.")
@edge
def serve(port: int, host: str | None) -> int:
    """Serve the library: the web app, the HTTP API (/api/v1) and MCP (/mcp)."""
    from rag.settings import load_settings
    from vidrag.server.auth import check_bind

    settings = load_settings()
    host = host or settings.bind
    # One line here, before Streamlit prints that it serves.
    check_bind(host, settings.api_token, settings.published_bind)
    from vidrag.mcp_server import _check_port

    _check_port(port, host)
    # `streamlit run`, through vidrag/server/launch.py: its listening socket answers without a 40 ms wait.
    command = [sys.executable, "-m", "vidrag.server.launch", "run", str(SERVER_SCRIPT), *STREAMLIT_FLAGS,
               "--server.port", str(port), "--server.address", host,
               "--server.maxUploadSize", str(settings.max_upload_mb)]
    sys.stdout.flush()
    os.execv(sys.executable, command)  # Streamlit owns the process from here: Ctrl-C, signals, logs
    return 0  # not reached


@click.command()
@click.option("--http", is_flag=True, help="Streamable HTTP on 127.0.0.1 instead of stdio.")
@click.option("--port", type=int, default=8765, show_default=True, help="The HTTP port.")
@edge
def mcp(http: bool, port: int) -> int:
    """Serve the library to MCP clients (stdio, or --http)."""
    from rag.errors import VidragError
    from rag.settings import load_settings
    from vidrag.cli.remote import server_for
    from vidrag.mcp_server import serve as serve_mcp

    settings = load_settings()
    if (server := server_for(settings)) is not None:
        # The server already serves these tools over streamable HTTP, on the library it holds.
        raise VidragError(f"the vidrag server at {server.url} holds this library; "
                          f"point the MCP client at {server.url}/mcp")
    return serve_mcp(settings, http=http, port=port)


COMMANDS = (serve, mcp)
