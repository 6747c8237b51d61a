"""``hgpt mcp``: the engine as an MCP server over stdio, for a desktop MCP host.

stdout carries only MCP messages; everything else (logs, a library's stray print)
goes to stderr. The tools are those of ``/mcp`` on ``hgpt serve`` (see
``engine.serve.mcp_tools``), behind the same gate; runs are kept in the history store.
"""

from __future__ import annotations

import logging
import sys

from .serve import add_server_arguments, checked_settings


def add_parser(sub) -> None:
    p = sub.add_parser("mcp", help="serve the engine as an MCP server over stdio (for MCP hosts)")
    add_server_arguments(p)
    p.add_argument("--parallel", type=int, default=2, help="tool calls that run at once (default 2)")
    p.add_argument("--queue", type=int, default=32, help="calls that may wait; beyond that a call fails "
                   "at once with a retry hint (default 32)")
    p.set_defaults(func=run)


def run(args) -> int:
    import anyio

    from engine import Engine, ServeConfig
    from engine.serve.mcp_tools import serve_stdio
    from engine.serve.service import Service

    logging.basicConfig(stream=sys.stderr, force=True,
                        level=logging.INFO if args.verbose else logging.WARNING)
    settings = checked_settings(args)
    service = Service(Engine(settings), ServeConfig(running=args.parallel, waiting=args.queue).check())
    try:
        anyio.run(serve_stdio, service)
    except KeyboardInterrupt:
        pass
    return 0
