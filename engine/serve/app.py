"""The ASGI application: every interface over one ``Service``, behind one ``Guard``.

``create_app(engine, config)`` builds it: HuggingGPT's endpoints, the OpenAI-compatible
``/v1``, the experts over the Hugging Face inference protocol, MCP at ``/mcp``,
``/health`` and the OpenAPI document at ``/openapi.json`` (no docs page: it would load
scripts from the internet). Errors have one JSON shape,
``{"error": {"message", "type", "code"}}``, with the status saying whose fault it is:
4xx for the request (the message says what to change), 503 with ``Retry-After`` when
the queue is full, 500 only when a run fails inside the engine.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from engine import __version__, errors

from . import api_experts, api_hugginggpt, api_openai
from .config import ServeConfig
from .experts import NotFound
from .files import Refused, TooLarge
from .gate import Busy
from .responses import ApiError, error
from .guard import Guard
from .schemas import Health
from .service import Service

log = logging.getLogger(__name__)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return "the request does not match the API: " + "; ".join(parts)


def create_app(engine, config: ServeConfig | None = None, service: Service | None = None) -> FastAPI:
    config = (config or ServeConfig()).check()
    service = service or Service(engine, config)
    mcp_app = manager = None
    if config.mcp:
        from .mcp_tools import http_app

        mcp_app, manager = http_app(service)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            if manager is None:
                yield
            else:
                async with manager.run():
                    yield
        finally:
            service.close()

    app = FastAPI(title="hgpt", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="HuggingGPT on your laptop, offline: HuggingGPT's endpoints, an OpenAI-compatible "
                              "/v1, the experts over the Hugging Face inference protocol, and MCP at /mcp.")
    app.state.service = service

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return error(503, str(exc), "busy", {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error(exc.status, exc.message, exc.kind)

    @app.exception_handler(errors.HgptError)
    async def hgpt_error(request: Request, exc: errors.HgptError):
        if isinstance(exc, TooLarge):
            return error(413, str(exc), "too_large")
        if isinstance(exc, (Refused, errors.UserInputError)):
            return error(400, str(exc), "invalid_request")
        if isinstance(exc, (NotFound, errors.UnknownNameError)):
            return error(404, str(exc), "not_found")
        if isinstance(exc, errors.Cancelled):
            return error(409, str(exc), "cancelled")
        if isinstance(exc, errors.ExpertError):
            return error(422, str(exc), "model_failed")
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error(500, str(exc), "server_error")

    @app.exception_handler(FileNotFoundError)
    async def not_found(request: Request, exc: FileNotFoundError):
        return error(404, str(exc), "not_found")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error(422, _validation_message(exc), "invalid_request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), "http_error", getattr(exc, "headers", None))

    @app.get("/health", response_model=Health, tags=["Server"])
    async def health() -> dict:
        """Alive, the queue, offline mode (open without an API key)."""
        return service.health()

    app.include_router(api_openai.router(service))
    app.include_router(api_hugginggpt.router(service))
    app.include_router(api_experts.router(service))
    if mcp_app is not None:
        app.router.routes.append(Route("/mcp", endpoint=mcp_app))

    guarded = Guard(app, config)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        return _Wrapped(CORSMiddleware(guarded, allow_origins=list(config.cors_origins), allow_methods=["*"],
                                       allow_headers=["*"], expose_headers=["X-Hgpt-Run", "Retry-After"]), app)
    return _Wrapped(guarded, app)


class _Wrapped:
    """The guarded ASGI app, with the FastAPI app's attributes (``openapi()``, ``state``) at hand."""

    def __init__(self, asgi, app: FastAPI):
        self._asgi, self.app = asgi, app

    async def __call__(self, scope, receive, send):
        await self._asgi(scope, receive, send)

    def __getattr__(self, name):
        return getattr(self.app, name)
