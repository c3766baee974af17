"""The security headers every page and API of the hall and the hub's console sends, as plain ASGI
middleware: Starlette's `@app.middleware("http")` (BaseHTTPMiddleware) wrapped every request in
an extra task and response copy, ~1.2 ms of CPU each — on the hub, kiosks' sync posts and
heartbeats included (issue 20)."""
from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; object-src 'none';"
                               " frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """SECURITY_HEADERS on every HTTP response under one of `paths` (every path when None), and
    `Cache-Control: no-store` unless under one of `cacheable` (static files). A header the route
    set itself is kept."""

    def __init__(self, app: ASGIApp, paths: tuple[str, ...] | None = None, cacheable: tuple[str, ...] = ()) -> None:
        self.app, self.paths, self.cacheable = app, paths, cacheable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if scope["type"] != "http" or (self.paths is not None and not path.startswith(self.paths)):
            await self.app(scope, receive, send)
            return
        no_store = not (self.cacheable and path.startswith(self.cacheable))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    headers.setdefault(k, v)
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
