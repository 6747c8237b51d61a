"""``hgpt serve``: the engine as a local API (HuggingGPT's endpoints, OpenAI's /v1, the
experts over the Hugging Face inference protocol, MCP at /mcp). See ``engine.serve``.

Loopback only unless an API key is set; the key comes from ``--api-key-file`` or
``HGPT_API_KEY`` (``--api-key`` works too, but other users of the machine can read a
command line) and is never printed.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve the engine as a local API (HTTP: HuggingGPT, OpenAI /v1, MCP)")
    add_server_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; "
                   "anything else needs an API key)")
    p.add_argument("--port", type=int, help="port (default: the port in Settings, 8004)")
    p.add_argument("--api-key", help="the key clients must send (prefer --api-key-file or HGPT_API_KEY)")
    p.add_argument("--api-key-file", type=Path, metavar="FILE", help="read the API key from FILE")
    p.add_argument("--parallel", type=int, default=2, help="runs at once (default 2)")
    p.add_argument("--queue", type=int, default=32, help="requests that may wait for a slot; "
                   "beyond that 503 + Retry-After (default 32)")
    p.add_argument("--max-body-mb", type=float, default=32.0, help="largest request body (default 32)")
    p.add_argument("--max-file-mb", type=float, default=20.0, help="largest attached file (default 20)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser pages from ORIGIN (repeatable; default: none)")
    p.add_argument("--no-mcp", action="store_true", help="do not serve MCP at /mcp")
    p.add_argument("--no-warm-up", action="store_true", help="load models on the first request, not at start")
    p.set_defaults(func=run)


def add_server_arguments(p) -> None:
    """The controller options ``serve`` and ``mcp`` share with ``ask``."""
    p.add_argument("--controller", metavar="GGUF|URL", help="the controller: a models.lock name, a chat GGUF, "
                   "or the http:// address of an OpenAI-compatible server (default: Settings)")
    p.add_argument("--chat-format", help="override the chat format read from the GGUF")
    p.add_argument("--threads", type=int, help="llama.cpp threads")


def checked_settings(args):
    from engine import check_controller, load_settings

    s = load_settings()
    changes = {k: v for k, v in (("controller", args.controller), ("chat_format", args.chat_format),
                                 ("n_threads", args.threads)) if v}
    s = s.with_(**changes) if changes else s
    check_controller(s)
    return s


def api_key(args) -> str:
    from engine import environment, errors

    if args.api_key_file is not None:
        try:
            return args.api_key_file.read_text().strip()
        except OSError as exc:
            raise errors.UserInputError(f"cannot read the API key file {args.api_key_file}: {exc.strerror}") from None
    return (args.api_key or environment().api_key or "").strip()


def warm_up(engine) -> threading.Thread:
    def work():
        try:
            engine.warm_up()
        except Exception as exc:  # the first request reports it again, where it happens
            print(f"hgpt: warm-up failed: {exc}", file=sys.stderr)

    thread = threading.Thread(target=work, name="hgpt-warm-up", daemon=True)
    thread.start()
    return thread


def run(args) -> int:
    from engine import ApiServer, Engine, ServeConfig

    settings = checked_settings(args)
    config = ServeConfig(host=args.host, port=args.port if args.port is not None else settings.api_port,
                         api_key=api_key(args), running=args.parallel, waiting=args.queue,
                         max_body_mb=args.max_body_mb, max_file_mb=args.max_file_mb,
                         cors_origins=tuple(args.cors_origin), mcp=not args.no_mcp).check()
    engine = Engine(settings)
    server = ApiServer(engine, config, log_level="info" if args.verbose else "warning")
    note = "" if config.loopback else " (API key required)"

    def ready(url: str) -> None:
        print(f"hgpt: serving on {url}{note}: OpenAI {url}/v1, HuggingGPT /hugginggpt /tasks /results, "
              "experts /models/{id}, MCP /mcp; Ctrl+C stops", file=sys.stderr, flush=True)
        if not args.no_warm_up:  # after the line above: llama.cpp silences stderr while it loads
            warm_up(engine)

    try:
        server.serve_forever(ready)
    except KeyboardInterrupt:
        pass
    return 0
