"""What keeps other web pages away from a local explorer: Host names and response headers.

A page open in the user's browser may point its own domain name at
127.0.0.1 ("DNS rebinding"); the browser then treats the explorer as that
page's own origin and lets it read every answer, an evaluation's exact
statistics included. Checking the ``Host`` header stops it: a request must
name the address the explorer listens on (or ``localhost``), never a domain
of the page's choosing. Every answer also carries headers that keep the
explorer out of frames, stop content sniffing and confine the page to its
own files (no network, as air-gapped users need).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.responses import JSONResponse

#: Host names that always reach a loopback explorer.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

#: Headers on every answer.
HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    # Bars are sized with inline style attributes; nothing is loaded from elsewhere.
    "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:8000`` gives ``[::1]``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_hosts(listening: str) -> tuple[str, ...] | None:
    """The Host names a server listening on ``listening`` answers; None (any) off loopback."""
    if not is_loopback(listening):
        return None  # reachable from the network by the user's choice (the command line warns)
    own = f"[{listening}]" if ":" in listening else listening
    return tuple(dict.fromkeys((*LOOPBACK_NAMES, own.lower())))


class LocalOnly:
    """ASGI middleware: refuse requests whose Host is not ``allowed``; add :data:`HEADERS` to answers."""

    def __init__(self, app, allowed: Iterable[str] | None = LOOPBACK_NAMES) -> None:
        self.app = app
        self.allowed = None if allowed is None else frozenset(allowed)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _headers(list(message.get("headers") or []))}
            await send(message)

        if self.allowed is not None and host_name(host) not in self.allowed:
            refusal = {"error": "this explorer answers only to its own address (e.g. 127.0.0.1)"}
            await JSONResponse(refusal, status_code=400)(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


def _headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    return headers + [(k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in present]
