"""uvicorn's HTTP/1.1 protocol with ``TCP_NODELAY`` set on every connection.

With ``--workers`` above one, uvicorn binds the listening socket itself with protocol number 0,
and asyncio then skips ``TCP_NODELAY`` on the accepted connections (it sets it only when the
socket says ``IPPROTO_TCP``). Nagle's algorithm and delayed acknowledgements then hold each
response back about 40 ms. This protocol sets the option itself; ``scientist serve`` uses it
whatever the number of workers.

References
----------
.. [1] J. Nagle, "Congestion Control in IP/TCP Internetworks", RFC 896, 1984; RFC 1122,
   section 4.2.3.2 (delayed acknowledgements).
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["NoDelayH11Protocol"]


class NoDelayH11Protocol(H11Protocol):
    """:class:`uvicorn.protocols.http.h11_impl.H11Protocol` that disables Nagle's algorithm."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - the option is advisory
                pass
        super().connection_made(transport)  # type: ignore[arg-type]
