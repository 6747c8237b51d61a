"""``hgpt serve`` and ``hgpt mcp``: the engine as a local API.

One ``Engine`` behind every interface — HuggingGPT's ``/hugginggpt``, ``/tasks`` and
``/results``; an OpenAI-compatible ``/v1`` (chat completions with and without
streaming, files as data URLs in, ``/v1/files/…`` URLs out); the experts over the
Hugging Face inference task protocol (``/models/{id}``, ``/models/{id}/pipeline/{task}``,
``/pipeline/{task}``); and MCP (``/mcp`` on the server, stdio with ``hgpt mcp``).

Modules: ``config`` (what a server may do; the key check), ``guard`` (Host, Origin,
key and body size, before any route), ``gate`` (the bounded queue, 503 when full),
``runs`` (engine work in a thread, its events on the event loop), ``files`` (uploads
in, run files out as URLs), ``service`` (what the interfaces share), ``experts``
(one expert called directly; the HF protocol's shapes), ``api_*`` (the HTTP routes),
``mcp_tools`` (the MCP server), ``app`` (the ASGI app), ``server`` (uvicorn on a bound
socket, foreground or on a thread). The server uses only the ``engine`` package's
public names, like the CLI and the window.
"""

from __future__ import annotations

from .config import ServeConfig

__all__ = ["ServeConfig", "ApiServer", "create_app"]


def __getattr__(name: str):
    if name == "ApiServer":
        from .server import ApiServer

        return ApiServer
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'engine.serve' has no attribute {name!r}")
