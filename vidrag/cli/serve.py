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
    "--server.headless", "true", "--server.maxUploadSize", "4096", "--server.fileWatcherType", "none",
    "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none", "--browser.gatherUsageStats", "false",
)


@click.command()
@click.option("--port", type=int, default=8501, show_default=True, help="The port to listen on.")
@click.option("--host", default="localhost", show_default=True,
              help="The address to listen on. The app has no login: open it to a network only behind a "
                   "reverse proxy with authentication (README, Security notes).")
@edge
def serve(port: int, host: str) -> int:
    """Serve the web app, with the library's videos."""
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER_SCRIPT), *STREAMLIT_FLAGS,
               "--server.port", str(port), "--server.address", host]
    sys.stdout.flush()
    os.execv(sys.executable, command)  # Streamlit owns the process from here: Ctrl-C, signals, logs
    return 0  # not reached


@click.command()
@click.option("--http", is_flag=True, help="Streamable HTTP on 127.0.0.1 instead of stdio.")
@click.option("--port", type=int, default=8765, show_default=True, help="The HTTP port.")
@edge
def mcp(http: bool, port: int) -> int:
    """Serve the library to MCP clients (stdio, or --http)."""
    from rag.settings import load_settings
    from vidrag.mcp_server import serve as serve_mcp

    return serve_mcp(load_settings(), http=http, port=port)


COMMANDS = (serve, mcp)
