"""hgpt as an MCP server: ``hgpt mcp`` over stdio, and ``/mcp`` (streamable HTTP) on ``hgpt serve``.

Tools:

* ``ask(request, files?)`` — the whole pipeline; the answer as text, every file it
  wrote as embedded image/audio content (and as an ``hgpt://runs/<run>/<name>``
  resource), the run (plan, per-task results) as structured content. Recorded in the
  history store like any run.
* ``plan(request, files?)`` — the task graph the request would get; nothing runs.
* one tool per task type some installed expert can run (``image_classification(image)``,
  ``text_to_speech(text)``, …), its input schema built from the task table, with an
  optional ``model`` among the installed ones.

Files go in as base64 or ``data:`` URLs, or as the ``hgpt://runs/…`` URI of an earlier
result (so one tool's output can be the next one's input); never as a path on this
machine. The same gate as the HTTP API stands in front of every call: when it is
full the call ends at once as an error that says when to retry.
"""

from __future__ import annotations

import base64
import json
from collections import deque
from pathlib import Path

import anyio
import mcp_types as types
from mcp.server import Server

from engine import CancelToken, TASK_TYPES, __version__, errors

from .experts import FILE_MODALITIES, NotFound, json_schema, new_call_dir, tool_name
from .files import RunFiles, media_type
from .gate import Busy
from .runs import Outcome
from .service import Parsed, Service

EMBED_LIMIT = 8 * 2**20  # a larger file is given as a resource link, not embedded
FILES_SCHEMA = {"type": "array", "maxItems": 8, "description": "images or audio the request is about",
                "items": {"type": "string", "description": "a file: a data: URL (data:image/png;base64,…), "
                                                           "plain base64, or the hgpt://runs/… URI of an earlier result"}}
INSTRUCTIONS = ("hgpt runs requests through local expert models, offline: `ask` plans, picks models, runs "
                "them and answers; `plan` shows the task graph only; the other tools run one model on one "
                "task. Send files as base64 or data: URLs, or the hgpt:// URI of an earlier result.")


class UriFiles(RunFiles):
    """Run files named by ``hgpt://runs/…`` URIs (an MCP client may have no HTTP to the server)."""

    def url(self, path) -> str:
        return self.uri(path)


class McpTools:
    def __init__(self, service: Service):
        self.service = service
        self.files = UriFiles(service.runs_dir)
        self.recent: deque[tuple[str, Path]] = deque(maxlen=100)  # resources this server made
        self._tools: list[types.Tool] | None = None

    # -- listing ------------------------------------------------------------------------------------
    def tools(self) -> list[types.Tool]:
        if self._tools is None:
            registry = self.service.engine.registry
            text = {"type": "string", "description": "what you want done, in plain words"}
            tools = [
                types.Tool(name="ask", description="Run a request through hgpt's whole pipeline (plan, choose "
                           "models, run them, answer). Returns the answer, the files made and the run.",
                           input_schema={"type": "object", "properties": {"request": text, "files": FILES_SCHEMA},
                                         "required": ["request"], "additionalProperties": False}),
                types.Tool(name="plan", description="The task graph hgpt would run for a request "
                           "(tasks, their arguments and dependencies); nothing is run.",
                           input_schema={"type": "object", "properties": {"request": text, "files": FILES_SCHEMA},
                                         "required": ["request"], "additionalProperties": False}),
            ]
            for task in self.service.experts.installed_tasks():
                models = [e.model_id for e in registry.for_task(task)]
                tools.append(types.Tool(
                    name=tool_name(task), description=f"{TASK_TYPES[task].description} ({task}; installed: "
                    f"{', '.join(models)})", input_schema=json_schema(task, models)))
            self._tools = tools
        return self._tools

    def task_of(self, name: str) -> str | None:
        for task in TASK_TYPES:
            if tool_name(task) == name:
                return task
        return None

    # -- calling ------------------------------------------------------------------------------------
    async def call(self, name: str, arguments: dict) -> types.CallToolResult:
        try:
            if name in ("ask", "plan"):
                request = arguments.get("request")
                if not isinstance(request, str):
                    raise errors.UserInputError("'request' must be a string: what you want done")
                return await (self._ask if name == "ask" else self._plan)(request, arguments.get("files") or [])
            task = self.task_of(name)
            known = {t.name for t in await anyio.to_thread.run_sync(self.tools)}
            if task is None or name not in known:
                raise NotFound(f"no tool {name!r}; the tools are {', '.join(sorted(known))}")
            return await self._task(task, arguments)
        except Busy as exc:
            return _error(f"{exc}")
        except errors.HgptError as exc:
            return _error(str(exc))

    def _decode_files(self, values, uploads) -> list[Path]:
        if not isinstance(values, list):
            raise errors.UserInputError("'files' must be a list of base64 strings, data: URLs or hgpt:// URIs")
        return [self._file(v, uploads, "a file") for v in values]

    def _file(self, value, uploads, what: str) -> Path:
        if not isinstance(value, str):
            raise errors.UserInputError(f"{what} must be a string: base64, a data: URL or an hgpt:// URI")
        try:
            own = self.files.from_reference(value)
        except FileNotFoundError as exc:
            raise errors.UserInputError(str(exc)) from None
        return own or uploads.add_encoded(value, what=what)

    async def _ask(self, request: str, values) -> types.CallToolResult:
        uploads = self.service.uploads()
        try:
            parsed = Parsed(request.strip(), self._decode_files(values, uploads))
            cancel = CancelToken()
            bridge = self.service.run(parsed, uploads, cancel)
        except BaseException:
            uploads.close()
            raise
        outcome = Outcome()
        async for event in bridge:
            outcome.apply(event)
        outcome.queued = bridge.ticket.waited
        if outcome.status != "done":
            return _error(f"the run {outcome.status}" + (f" while {outcome.stage}: {outcome.error}" if outcome.error else ""))
        content: list = [types.TextContent(text=outcome.public_text(self.files))]
        content += self._media(outcome.record.get("artifacts", []))
        return types.CallToolResult(content=content, structured_content=outcome.summary(self.files))

    async def _plan(self, request: str, values) -> types.CallToolResult:
        uploads = self.service.uploads()
        try:
            parsed = Parsed(request.strip(), self._decode_files(values, uploads))
            bridge = self.service.plan(parsed, uploads, CancelToken())
        except BaseException:
            uploads.close()
            raise
        async for plan, seconds, _trace in bridge:
            tasks = plan.to_list()
            text = json.dumps(tasks, ensure_ascii=False) if tasks else "no tasks: hgpt would answer directly"
            return types.CallToolResult(content=[types.TextContent(text=text)],
                                        structured_content={"tasks": tasks, "seconds": round(seconds, 3)})
        return _error("no plan was made")

    async def _task(self, task: str, arguments: dict) -> types.CallToolResult:
        calls, service = self.service.experts, self.service
        task_type = TASK_TYPES[task]
        model_id = arguments.get("model")
        cancel = CancelToken()

        def work():
            expert = calls.choose(task, model_id if isinstance(model_id, str) else None)
            _, folder = new_call_dir(service.runs_dir)
            uploads = service.uploads(folder / "inputs")
            args = {}
            for key, value in arguments.items():
                if key == "model":
                    continue
                if key not in task_type.args:
                    raise errors.UserInputError(f"{tool_name(task)} takes {', '.join(task_type.args)}; not {key!r}")
                if task_type.args[key] in FILE_MODALITIES:
                    args[key] = self._file(value, uploads, f"the {task_type.args[key]}")
                else:
                    args[key] = value if isinstance(value, str) else json.dumps(value)
            return expert.model_id, calls.call(expert, task, args, folder, cancel)

        async for model, result in service.call_expert(work, cancel):
            content: list = [types.TextContent(text=result.text or "(no text)")]
            content += self._media(result.files)
            return types.CallToolResult(content=content, structured_content={
                "model_id": model, "task": task, "text": result.text, "data": _jsonable(result.data),
                "files": [self.files.uri(f) for f in result.files]})
        return _error("the call did not finish")

    def _media(self, paths) -> list:
        out = []
        for item in paths:
            path = Path(item)
            uri = self.files.uri(path)
            if not uri or not path.is_file():
                continue
            self.recent.append((uri, path))
            mime = media_type(path)
            size = path.stat().st_size
            if size > EMBED_LIMIT:
                out.append(types.ResourceLink(name=path.name, uri=uri, mime_type=mime, size=size))
                continue
            data = base64.b64encode(path.read_bytes()).decode()
            if mime.startswith("image/"):
                out.append(types.ImageContent(data=data, mime_type=mime))
            elif mime.startswith("audio/"):
                out.append(types.AudioContent(data=data, mime_type=mime))
            out.append(types.EmbeddedResource(resource=types.BlobResourceContents(uri=uri, mime_type=mime, blob=data)))
        return out

    # -- resources ----------------------------------------------------------------------------------
    def resources(self) -> list[types.Resource]:
        seen, out = set(), []
        for uri, path in reversed(self.recent):
            if uri not in seen and path.is_file():
                seen.add(uri)
                out.append(types.Resource(name=path.name, uri=uri, mime_type=media_type(path),
                                          size=path.stat().st_size))
        return out

    def read(self, uri: str) -> types.ReadResourceResult:
        try:
            path = self.files.from_reference(uri)
        except FileNotFoundError as exc:
            raise errors.UserInputError(str(exc)) from None
        if path is None:
            raise errors.UserInputError(f"{uri!r} is not an hgpt://runs/… resource")
        return types.ReadResourceResult(contents=[types.BlobResourceContents(
            uri=uri, mime_type=media_type(path), blob=base64.b64encode(path.read_bytes()).decode())])


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def build_server(service: Service) -> tuple[Server, McpTools]:
    tools = McpTools(service)

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await anyio.to_thread.run_sync(tools.tools))

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await tools.call(params.name, dict(params.arguments or {}))

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=tools.resources())

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await anyio.to_thread.run_sync(tools.read, params.uri)

    server = Server("hgpt", version=__version__, instructions=INSTRUCTIONS, on_list_tools=list_tools,
                    on_call_tool=call_tool, on_list_resources=list_resources, on_read_resource=read_resource)
    return server, tools


async def serve_stdio(service: Service) -> None:
    """Serve MCP on this process's stdin/stdout until the client closes them."""
    from mcp.server.stdio import stdio_server

    server, _ = build_server(service)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app(service: Service):
    """The streamable-HTTP MCP endpoint (an ASGI app) and its session manager (run it in the lifespan)."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
    from mcp.server.transport_security import TransportSecuritySettings

    server, _ = build_server(service)
    manager = StreamableHTTPSessionManager(
        app=server, max_request_body_size=service.config.max_body_bytes,
        # Host and Origin are checked for every path by engine.serve.guard, the API key too
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
    return StreamableHTTPASGIApp(manager), manager
