"""`python -m vidrag.server.launch run SCRIPT [flags]`: `streamlit run`, listening on a socket that
answers without waiting 40 ms.

Streamlit binds its listening socket itself and hands it to uvicorn. It creates it as
`socket.socket(family)`, whose protocol number reads 0 rather than TCP's, and asyncio only turns
off Nagle's algorithm (TCP_NODELAY) for sockets that say they are TCP. uvicorn writes a reply's
headers, then its body, and the body then waits for the client's delayed ACK: 40 ms on Linux for
each API call over a kept-alive connection, most of what one search takes (BENCHMARKS.md,
"Server under load").
Reopening the same descriptor lets Python read the real protocol from the kernel.
"""

from __future__ import annotations

import socket
import sys


def tcp_socket(sock: socket.socket) -> socket.socket:
    """The same listening socket, its protocol read from the kernel (IPPROTO_TCP)."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.proto:
        return sock
    blocking, inheritable = sock.getblocking(), sock.get_inheritable()
    reopened = socket.socket(fileno=sock.detach())
    reopened.setblocking(blocking)
    reopened.set_inheritable(inheritable)
    return reopened


def _patch_streamlit() -> None:
    """Wrap Streamlit's socket binding, if this Streamlit binds the way 1.67 does; otherwise
    leave it: the cost is latency, not correctness."""
    try:
        from streamlit.web.server.starlette import starlette_server
    except ImportError:
        return
    bind = getattr(starlette_server, "_bind_socket", None)
    if bind is None or getattr(bind, "vidrag_tcp", False):
        return

    def bind_tcp(*args, **kwargs) -> socket.socket:
        return tcp_socket(bind(*args, **kwargs))

    bind_tcp.vidrag_tcp = True
    starlette_server._bind_socket = bind_tcp


def main() -> None:
    _patch_streamlit()
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
