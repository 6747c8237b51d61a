"""The checks every request passes before any route sees it (a plain ASGI middleware).

In order: the ``Host`` header must name this machine when the server listens on
loopback (a web page that rebinds its own name to 127.0.0.1 is refused); a request
from a browser page (it has an ``Origin``) is refused unless that origin was allowed
(CORS is closed by default); the API key, when there is one, must be offered as
``Authorization: Bearer …``, ``X-API-Key`` or ``api-key`` and is compared in
constant time (``/health`` alone is open); the body may not exceed the size limit,
whether it declares its length or streams it. A refusal is a JSON error in the API's
one shape. Nothing here logs a header.
"""

from __future__ import annotations

import json

from .config import ServeConfig, is_loopback_host
from .files import size

OPEN_PATHS = ("/health",)


def error_body(status: int, message: str, kind: str, extra_headers: dict | None = None):
    body = json.dumps({"error": {"message": message, "type": kind, "code": None}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), str(v).encode()) for k, v in (extra_headers or {}).items()]
    return status, headers, body


async def send_error(send, status: int, message: str, kind: str, extra_headers: dict | None = None) -> None:
    status, headers, body = error_body(status, message, kind, extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def offered_key(headers: dict[str, str]) -> str | None:
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key") or headers.get("api-key")


class Guard:
    def __init__(self, app, config: ServeConfig):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self._refusal(scope, headers)
        if problem is not None:
            return await send_error(send, *problem)
        limit = self.config.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return await send_error(send, 413, f"the request body is {size(int(declared))}; the limit is "
                                    f"{size(limit)} (hgpt serve --max-body-mb)", "too_large")
        if declared.isdigit() or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        # A body of unknown length (chunked): read it here, up to the limit, then hand it on.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before the body was complete
            body = message.get("body", b"")
            seen += len(body)
            if seen > limit:
                return await send_error(send, 413, f"the request body is over the {size(limit)} limit "
                                        "(hgpt serve --max-body-mb)", "too_large")
            chunks.append(body)
            if not message.get("more_body", False):
                break
        pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    def _refusal(self, scope, headers: dict[str, str]):
        config = self.config
        if config.loopback and not config.api_key:
            host = headers.get("host", "")
            name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
            if host and not is_loopback_host(name):
                return (403, f"this server answers only to localhost, not to {host!r} (it listens on "
                             f"{config.host})", "forbidden_host")
        origin = headers.get("origin")
        if origin is not None and origin not in config.cors_origins:
            return (403, f"requests from web pages ({origin}) are refused: CORS is closed "
                         "(hgpt serve --cors-origin ORIGIN opens it for one origin)", "forbidden_origin")
        if config.api_key and scope.get("path", "") not in OPEN_PATHS:
            if not config.key_matches(offered_key(headers)):
                return (401, "a valid API key is needed: send it as 'Authorization: Bearer KEY'",
                        "invalid_api_key", {"www-authenticate": "Bearer"})
        return None
