"""vidrag serve's listening socket turns Nagle's algorithm off for each connection
(vidrag/server/launch.py), so that an API reply does not wait on the client's delayed ACK."""

from __future__ import annotations

import asyncio
import socket

from vidrag.server import launch


def _accepted_nodelay(listening: socket.socket) -> int:
    """TCP_NODELAY on the connection asyncio accepts from `listening`, as uvicorn's server does."""

    async def main() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        def connected(reader, writer) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listening)
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        server.close()
        return value

    return asyncio.run(main())


def _streamlit_bound() -> socket.socket:
    from streamlit.web.server.starlette import starlette_server

    return starlette_server._bind_socket("127.0.0.1", 0, 16)


def test_streamlits_own_socket_would_keep_nagle_on():
    """The reason for the patch: if this starts failing, Streamlit fixed it and launch.py can go."""
    assert _accepted_nodelay(_streamlit_bound()) == 0


def test_the_patched_binding_gives_connections_tcp_nodelay(monkeypatch):
    from streamlit.web.server.starlette import starlette_server

    monkeypatch.setattr(starlette_server, "_bind_socket", starlette_server._bind_socket)  # undone after
    launch._patch_streamlit()
    assert starlette_server._bind_socket.vidrag_tcp
    listening = _streamlit_bound()
    assert listening.proto == socket.IPPROTO_TCP and not listening.getblocking() and listening.get_inheritable()
    assert _accepted_nodelay(listening) == 1
