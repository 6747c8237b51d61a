"""What every interface of the server shares: the engine, the gate, request parsing.

``Service`` is built once per server over one ``Engine`` (the window's own, when the
window serves). HTTP routes and MCP tools only turn their requests into
``Service.run`` / ``plan`` / ``call_expert`` and turn the outcome back into their
protocol's shape.

``parse_messages`` reads chat messages (OpenAI's and HuggingGPT's: a string, or a
list of content parts — text, ``image_url``, ``input_audio``, ``file``): the last
user message is the request and its files the attachments; earlier user and
assistant messages become the chat log the engine plans with, and a file an
earlier answer produced (one of this server's ``/v1/files/…`` URLs) comes with its
turn, so "now read that aloud" works across requests. System messages are not used.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from engine import CancelToken, errors

from .config import ServeConfig
from .experts import ExpertCalls
from .files import AUDIO_FORMATS, Refused, RunFiles, Uploads
from .gate import Gate
from .runs import Bridge

FILE_URL = re.compile(r"(?:https?://[^\s/]+)?/v1/files/\d{8}-\d{6}-[0-9a-f]{6}/[^\s)\"'<>]+")


@dataclass
class Parsed:
    request: str
    attachments: list[Path] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)


def _get(obj: Any, key: str, default=None):
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _part_file(part: Any, uploads: Uploads, files: RunFiles) -> Path | None:
    kind = _get(part, "type")
    if kind == "image_url":
        image = _get(part, "image_url")
        url = image if isinstance(image, str) else _get(image, "url", "")
        own = _own_file(url, files)
        return own or uploads.add_encoded(url or "", what="an image_url")
    if kind == "input_audio":
        audio = _get(part, "input_audio")
        fmt = str(_get(audio, "format", "") or "").lower()
        return uploads.add_encoded(_get(audio, "data", "") or "", what="input_audio",
                                   suffix_hint=AUDIO_FORMATS.get(fmt, ""))
    if kind == "file":
        body = _get(part, "file")
        if _get(body, "file_id"):
            raise Refused("file_id names a file this server does not have (there is no files upload API); "
                          "send file_data as a data: URL")
        name = str(_get(body, "filename", "") or "")
        hint = Path(name).suffix.lower() if re.fullmatch(r"[\w .-]{1,120}", name) else ""
        return uploads.add_encoded(_get(body, "file_data", "") or "", what=f"the file {name or ''}".strip(),
                                   suffix_hint=hint, stem=Path(name).stem if hint else "")
    return None


def _own_file(url: str, files: RunFiles) -> Path | None:
    """An earlier result of this server, named by its URL or URI (never any other path)."""
    try:
        return files.from_reference(url or "")
    except FileNotFoundError as exc:
        raise Refused(f"{exc}; it may have been deleted") from None


def _content(message: Any, uploads: Uploads, files: RunFiles, keep_files: bool) -> tuple[str, list[Path]]:
    content = _get(message, "content")
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts, found = [], []
    for part in content:
        if _get(part, "type") == "text":
            texts.append(str(_get(part, "text", "")))
        elif keep_files:
            path = _part_file(part, uploads, files)
            if path is not None:
                found.append(path)
    return "\n".join(t for t in texts if t), found


def parse_messages(messages: Iterable[Any], uploads: Uploads, files: RunFiles) -> Parsed:
    messages = [m for m in messages if _get(m, "role") in ("user", "assistant", "system", "developer", "tool")]
    if not messages or _get(messages[-1], "role") != "user":
        raise errors.UserInputError("the last message must be the user's request (role \"user\")")
    history = []
    for message in messages[:-1]:
        role = _get(message, "role")
        if role not in ("user", "assistant"):
            continue
        text, attached = _content(message, uploads, files, keep_files=True)
        if role == "assistant":  # files an earlier answer of this server produced
            for url in FILE_URL.findall(text):
                try:
                    path = files.from_reference(url[url.index("/v1/files/"):].rstrip(".,;:!?"))
                except (FileNotFoundError, Refused):
                    path = None
                if path is not None:
                    attached.append(path)
        turn = {"role": role, "content": text}
        if attached:
            turn["files"] = [str(p) for p in attached]
        history.append(turn)
    request, attachments = _content(messages[-1], uploads, files, keep_files=True)
    return Parsed(request.strip(), attachments, history)


class Service:
    """The engine and what stands in front of it, for every interface of one server."""

    def __init__(self, engine, config: ServeConfig | None = None):
        self.engine = engine
        self.config = config or ServeConfig()
        self.gate = Gate(self.config.running, self.config.waiting)
        self.experts = ExpertCalls(engine)
        # one thread per slot, for the server's life: runs, plans and expert calls go here
        self.pool = ThreadPoolExecutor(max_workers=self.config.running, thread_name_prefix="hgpt-serve")

    @property
    def runs_dir(self) -> Path:
        return Path(self.engine.settings.runs_dir)

    def files(self, base: str = "") -> RunFiles:
        return RunFiles(self.runs_dir, base)

    def uploads(self, folder: Path | None = None) -> Uploads:
        return Uploads(self.config.max_file_bytes, self.config.max_files, folder)

    # -- the work, each behind the gate ---------------------------------------------------------------
    def start(self, messages: Iterable[Any], base_url: str) -> tuple[Bridge, RunFiles, CancelToken]:
        """A run of chat ``messages`` (their files saved as uploads, closed if it cannot
        start), with the files it will write served under ``base_url``."""
        files = self.files(base_url)
        uploads = self.uploads()
        try:
            cancel = CancelToken()
            return self.run(parse_messages(messages, uploads, files), uploads, cancel), files, cancel
        except BaseException:
            uploads.close()
            raise

    def run(self, parsed: Parsed, uploads: Uploads, cancel: CancelToken) -> Bridge:
        """A pipeline run of ``parsed`` (inputs are checked now: ``UserInputError`` before
        anything is queued); recorded in the history store like the CLI's and the window's."""
        stream = self.engine.run(parsed.request, [str(p) for p in parsed.attachments], cancel=cancel,
                                 history=parsed.history)
        try:
            ticket = self.gate.admit()
        except BaseException:
            stream.close()
            uploads.close()
            raise
        return Bridge(ticket, lambda: stream, cancel, self.pool, cleanup=uploads.close)

    def plan(self, parsed: Parsed, uploads: Uploads, cancel: CancelToken) -> Bridge:
        """Stage 1 alone (``Engine.plan_only``): ``(plan, seconds, trace)``; nothing is run or kept."""
        ticket = self.gate.admit()
        return Bridge(ticket, lambda: self.engine.plan_only(parsed.request, [str(p) for p in parsed.attachments],
                                                            parsed.history, cancel=cancel),
                      cancel, self.pool, iterate=False, cleanup=uploads.close)

    def call_expert(self, work, cancel: CancelToken) -> Bridge:
        """``work()`` (an expert call) when a slot is free."""
        return Bridge(self.gate.admit(), work, cancel, self.pool, iterate=False)

    def close(self) -> None:
        """Let the pool's threads end once their work is done (the server stopped)."""
        self.pool.shutdown(wait=False, cancel_futures=True)

    def health(self) -> dict:
        from engine import __version__

        return {"status": "ok", "version": __version__, "queue": self.gate.stats(),
                "offline": bool(self.engine.settings.offline)}
