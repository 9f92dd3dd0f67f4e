"""What guards ``toolweave mcp serve --transport http``: hosts, origins, a bearer token.

The SDK checks Host and Origin headers only when the server is bound to a loopback
name, and has no authentication of its own short of OAuth. Here every binding gets the
checks (the allowed hosts are the bound host, this machine's names where it is bound to
every address, loopback, and what the operator adds), and a server bound off loopback
needs a bearer token: requests without it are refused with 401 before the SDK sees them.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable

from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BearerAuth", "bind", "is_loopback", "security_settings", "url_host"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_EVERY_ADDRESS = ("", "0.0.0.0", "::")


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:  # an address, not a name: `127.attacker.example` is no loopback
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """`host` as it is written in a URL or a Host header (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def security_settings(
    host: str, extra_hosts: Iterable[str], extra_origins: Iterable[str]
) -> TransportSecuritySettings:
    """The SDK's Host and Origin checks for a server bound to `host`, always on."""
    names = [*LOOPBACK, *extra_hosts]
    if host in _EVERY_ADDRESS:
        names += [socket.gethostname(), socket.getfqdn()]
    else:
        names.append(host)
    hosts: list[str] = []
    origins: list[str] = list(extra_origins)
    for name in dict.fromkeys(n for n in names if n):
        written = url_host(name)
        hosts += [written, f"{written}:*"]  # a Host header names the port unless it is 80
        for scheme in ("http", "https"):
            origins += [f"{scheme}://{written}", f"{scheme}://{written}:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host` and `port` (0: a free port), for uvicorn to serve on."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


class BearerAuth:
    """ASGI middleware: an HTTP request without ``Authorization: Bearer <token>`` gets 401.

    Args:
        app: The app it guards.
        token: The token to expect (compared in constant time).
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allows(scope):
            refusal = PlainTextResponse(
                "a bearer token is required: Authorization: Bearer <token>",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="toolweave"'},
            )
            await refusal(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _allows(self, scope: Scope) -> bool:
        sent = [value for name, value in scope["headers"] if name.lower() == b"authorization"]
        if len(sent) != 1:
            return False
        scheme, _, token = sent[0].strip().partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._token)
