"""Engine work in a worker thread, its events delivered to the event loop.

``Bridge`` takes a ticket from the gate, a blocking callable (``Engine.run``'s
generator, ``plan_only``, an expert call), a cancel token and the service's thread
pool. It waits for its slot on the event loop, then runs the work on the pool; events
arrive through an asyncio queue, so the server's loop never blocks on a model. The
pool's threads live as long as the server (a thread per request would leave a
database connection behind for each: the history store keeps one per thread). When the consumer stops early (the client
disconnected, a stream was closed) the token is cancelled: the engine stops between
steps or between two generated tokens, and records the run as cancelled.

``Outcome`` is what a finished run leaves: its events folded to the run record the
engine sends with ``AnswerDone`` (or the failure), with every run file as a URL.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterator

from engine import CancelToken, events as ev

from .files import RunFiles
from .gate import Ticket

_DONE = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Bridge:
    """``async for item in Bridge(ticket, work, cancel, pool)``: once the ticket has a slot,
    ``work()`` runs on ``pool`` (a few long-lived threads, so each keeps its database
    connections); it returns an iterator (its items are yielded) or a value (yielded once)."""

    POLL = 0.05  # seconds between looks at the queue while waiting for a slot

    def __init__(self, ticket: Ticket, work: Callable[[], Any], cancel: CancelToken, pool, *,
                 iterate: bool = True, cleanup: Callable[[], None] | None = None):
        self.ticket, self.work, self.cancel, self.pool = ticket, work, cancel, pool
        self.iterate, self.cleanup = iterate, cleanup
        self.finished = False
        self._started = False
        self._submitted = False
        self._state = {"submitted": False}
        # never iterated (a streaming reply the client left before it began): the place is
        # given back when the bridge is dropped
        weakref.finalize(self, _abandon, ticket, cleanup, self._state)

    def _thread(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server is shutting down
                self.cancel.cancel()

        try:
            result = self.work()
            if self.iterate:
                stream: Iterator = result
                try:
                    for item in stream:
                        put(item)
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            else:
                put(result)
        except BaseException as exc:  # delivered to the consumer, which raises it there
            put(_Raised(exc))
        finally:
            self.ticket.release()
            if self.cleanup is not None:
                self.cleanup()
            put(_DONE)

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self._started:
            raise RuntimeError("a Bridge runs once")
        self._started = True
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        try:
            while not self.ticket.try_take():  # queued: wait for a slot without holding a thread
                if self.cancel.cancelled:
                    return
                await asyncio.sleep(self.POLL)
            self._state["submitted"] = self._submitted = True
            self.pool.submit(self._thread, loop, queue)
            while True:
                item = await queue.get()
                if item is _DONE:
                    self.finished = True
                    return
                if isinstance(item, _Raised):
                    self.finished = True
                    raise item.exc
                yield item
        finally:
            if not self.finished:  # the consumer went away: stop the work
                self.cancel.cancel()
            if not self._submitted:  # it never ran: give the place back
                self._state["submitted"] = True
                _abandon(self.ticket, self.cleanup, {"submitted": False})

def _abandon(ticket: Ticket, cleanup, state: dict) -> None:
    if not state["submitted"]:
        ticket.release(record=False)
        if cleanup is not None:
            cleanup()


async def watch_disconnect(request, cancel: CancelToken, every: float = 0.25) -> None:
    """Cancel ``cancel`` when the HTTP client goes away (run beside a non-streaming reply)."""
    while not cancel.cancelled:
        if await request.is_disconnected():
            cancel.cancel()
            return
        await asyncio.sleep(every)


# -- a finished run, as the API shows it ------------------------------------------------------------
@dataclass
class Outcome:
    run_id: str = ""
    status: str = "running"  # done | failed | cancelled
    error: str = ""
    stage: str = ""
    record: dict = field(default_factory=dict)
    answer: dict = field(default_factory=dict)  # {"direct", "workflow", "notes"}
    text: str = ""
    notices: list[str] = field(default_factory=list)
    queued: float = 0.0  # seconds the request waited for a slot before the engine started it

    def apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.run_id = event.run_id
        elif isinstance(event, ev.RunNotice):
            self.notices.append(event.message)
        elif isinstance(event, ev.AnswerDone):
            self.status, self.record, self.answer, self.text = "done", event.record, event.answer, event.text
        elif isinstance(event, ev.RunFailed):
            self.status, self.error, self.stage = "failed", event.error, event.stage
        elif isinstance(event, ev.RunCancelled):
            self.status, self.stage = "cancelled", event.stage

    # The engine's paths, as URLs -------------------------------------------------------------
    def paths(self) -> list[str]:
        record = self.record
        found = list(record.get("artifacts", []))
        run_dir = record.get("run_dir", "")
        found += [f"{run_dir}/inputs/{name}" for name in record.get("attachments", [])]
        return found

    def public_text(self, files: RunFiles, relative: bool = False) -> str:
        return files.rewrite(self.text, self.paths(), relative=relative)

    def results(self, files: RunFiles, relative: bool = False) -> list[dict]:
        """Per task, in plan order: task, args, model, status, text, data, file URLs, error."""
        record = self.record
        out = []
        for task in record.get("plan", []):
            info = record.get("tasks", {}).get(str(task["id"]), {})
            chosen = record.get("selections", {}).get(str(task["id"]), {})
            urls = [files.url(f) for f in info.get("files", [])]
            if relative:
                urls = [u[len(files.base):] for u in urls]
            out.append({"id": task["id"], "task": task["task"], "dep": task.get("dep", [-1]),
                        "args": task.get("args", {}),
                        "model_id": info.get("model_id") or chosen.get("model_id", ""),
                        "reason": chosen.get("reason", ""), "status": info.get("status", "not run"),
                        "text": info.get("text", ""), "data": info.get("data", {}),
                        "files": urls, "seconds": info.get("seconds"), "error": info.get("error", "")})
        return out

    def summary(self, files: RunFiles, relative: bool = False) -> dict:
        """The ``hgpt`` field of an API answer: the run id, plan, per-task results and files,
        the engine's own timings (seconds per stage and in total) and the seconds the request
        waited in the queue before the engine started it."""
        results = self.results(files, relative)
        return {"run_id": self.run_id, "status": self.status, "plan": self.record.get("plan", []),
                "results": results, "files": [u for r in results for u in r["files"]],
                "answer": {"direct": self.answer.get("direct", ""),
                           "workflow": [files.rewrite(w, self.paths(), relative=relative)
                                        for w in self.answer.get("workflow", [])],
                           "notes": list(self.answer.get("notes", []))},
                "timings": self.record.get("timings", {}), "queued": round(self.queued, 3),
                "controller": self.record.get("controller", ""), "notices": self.notices}


def public_event(event: ev.Event, files: RunFiles) -> dict:
    """An event as a client may see it: file paths as URLs, no folder of this machine."""
    data = event.to_dict()
    data.pop("run_dir", None)
    if isinstance(event, ev.AnswerDone):
        data.pop("record", None)
        data.pop("text", None)
    if "files" in data and isinstance(data["files"], list):
        data["files"] = [files.url(f) or f for f in data["files"]]
    if "attachments" in data and isinstance(data["attachments"], list):
        data["attachments"] = [str(a).rsplit("/", 1)[-1] for a in data["attachments"]]
    if isinstance(event, ev.TaskStarted):
        data["args"] = {k: (files.url(v) or v) for k, v in event.args.items()}
    return data
