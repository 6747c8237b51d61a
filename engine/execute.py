"""Stage 3: run the experts in dependency order, independent tasks in parallel.

A task is submitted to a thread pool as soon as every task it depends on has
finished. ``<resource>-N`` arguments are replaced by task N's real output: a file
path for image/audio/video slots, text for text slots (a text slot naming an
attached text file gets the file's words). A failed task does not
stop the others; its dependents are skipped with the reason. Cancellation is
checked between steps: running experts finish, nothing new starts. An expert's
``ctx.progress`` reports reach the stream as ``TaskProgress`` events between those
steps (at most one per task each tenth of a second: the latest report).
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Iterator, Mapping

from . import events as ev
from . import faults
from .cancel import CancelToken
from .errors import Cancelled, ExpertError, HgptError
from .experts.base import ExpertContext, ExpertResult
from .plan.graph import RESOURCE_RE, Task
from .files import FILE_SUFFIXES, modality_of, read_text
from .references import check_output, resolve_attachment
from .tasks import TASK_TYPES, TaskType


def _file_of(result: ExpertResult, modality: str) -> Path | None:
    files = [Path(f) for f in result.files]
    wanted = FILE_SUFFIXES.get(modality, ())
    return next((f for f in files if f.suffix.lower() in wanted), files[0] if files else None)


def resolve_args(task: Task, ttype: TaskType, results: Mapping[int, ExpertResult],
                 attachments: Mapping[str, Path], *, run_dir: Path | None = None,
                 offline: bool = True) -> dict:
    """Arguments with resources and attachment names replaced by real values.

    File slots may only name attachments or earlier outputs (``engine.references``);
    anything else, or a reference to a task without a result, is an ``ExpertError``."""
    resolved = {}
    for key, value in task.args.items():
        modality = ttype.args.get(key, "text")
        value = "" if value is None else str(value)
        whole = RESOURCE_RE.fullmatch(value.strip())
        if modality != "text":
            if whole:
                source = int(whole.group(1))
                path = _file_of(_result(results, source, task), modality)
                if path is None:
                    raise ExpertError(f"task {source} produced no {modality} file for {key!r}")
                resolved[key] = check_output(path, modality, run_dir, source)
            else:
                resolved[key] = resolve_attachment(value, modality, attachments, key=key,
                                                   task=task.task, offline=offline)
        elif (text_file := _text_file(value, attachments)) is not None:  # an attached text file: its words
            resolved[key] = read_text(text_file)
        else:
            resolved[key] = RESOURCE_RE.sub(lambda m: _result(results, int(m.group(1)), task).passed_on.strip(),
                                            value)
    return resolved


def _text_file(value: str, attachments: Mapping[str, Path]) -> Path | None:
    path = attachments.get(value.strip())
    return path if path is not None and modality_of(path) == "text" else None


def _result(results: Mapping[int, ExpertResult], source: int, task: Task) -> ExpertResult:
    if source not in results:
        raise ExpertError(f"task {task.id} needs the output of task {source}, which has none; "
                          "the plan refers to a task that did not run before it")
    return results[source]


class Executor:
    def __init__(self, selections: Mapping[int, object], *, run_id: str, run_dir: Path,
                 attachments: Mapping[str, Path], controller=None,
                 cancel: CancelToken | None = None, max_workers: int = 2,
                 task_types: Mapping[str, TaskType] = TASK_TYPES,
                 selection_errors: Mapping[int, str] | None = None, memory=None,
                 offline: bool = True, memo=None, request: str = ""):
        self.selections = selections
        self.request = request  # what the user asked: the controller's text tasks follow its wording
        self.memo = memo  # given and cached results, and provenance (engine.results_cache.TaskMemo)
        self.offline = offline  # a URL in a plan is refused with the offline reason
        self.memory = memory  # loads experts within the memory budget (engine.memory)
        self.selection_errors = dict(selection_errors or {})
        self.run_id, self.run_dir = run_id, run_dir
        self.attachments = dict(attachments)
        self.controller = controller
        self.cancel = cancel or CancelToken()
        self.max_workers = max(1, max_workers)
        self.task_types = task_types
        self.results: dict[int, ExpertResult] = {}
        self.errors: dict[int, str] = {}
        self._progress: queue.SimpleQueue = queue.SimpleQueue()  # (task, done, total, unit) from experts
        self._started: dict[int, float] = {}

    def run(self, tasks: list[Task]) -> Iterator[ev.Event]:
        pending = {t.id: t for t in tasks}
        running: dict[Future, tuple[Task, float]] = {}
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="hgpt-expert") as pool:
            while pending or running:
                if not self.cancel.cancelled:
                    yield from self._skip_blocked(pending)
                    ready = self._ready(pending)
                    while ready:  # a task recalled from memory finishes at once: its dependents may be ready
                        for task in ready:
                            del pending[task.id]
                            started = yield from self._start(task)
                            if started is not None:
                                running[pool.submit(self._call, task, started[1])] = (task, time.perf_counter())
                        yield from self._skip_blocked(pending)
                        ready = self._ready(pending)
                elif not running:
                    raise Cancelled("the run was cancelled")
                if not running:
                    if pending and not self.cancel.cancelled:
                        yield from self._skip_blocked(pending, force=True)
                    continue
                done, _ = wait(running, timeout=0.1, return_when=FIRST_COMPLETED)
                yield from self._reported()
                for future in done:
                    task, t0 = running.pop(future)
                    yield self._finish(task, future, time.perf_counter() - t0)
        if self.cancel.cancelled:
            raise Cancelled("the run was cancelled")

    def _reported(self) -> Iterator[ev.Event]:
        """The latest progress report of each task since the last call."""
        latest: dict[int, tuple] = {}
        while True:
            try:
                task, done, total, unit = self._progress.get_nowait()
            except queue.Empty:
                break
            latest[task.id] = (task, done, total, unit)
        for task, done, total, unit in latest.values():
            seconds = time.perf_counter() - self._started.get(task.id, time.perf_counter())
            yield ev.TaskProgress(self.run_id, task.id, task.task, done, total, unit, round(seconds, 2))

    def _ready(self, pending: dict[int, Task]) -> list[Task]:
        return [t for t in list(pending.values())
                if all(d in self.results for d in t.dep if d >= 0)]

    def _skip_blocked(self, pending: dict[int, Task], force: bool = False) -> Iterator[ev.Event]:
        for task in list(pending.values()):
            failed = [d for d in task.dep if d in self.errors]
            if failed or force:
                del pending[task.id]
                reason = (f"task {failed[0]} it depends on failed" if failed
                          else "its inputs never became ready")
                self.errors[task.id] = reason
                yield ev.TaskSkipped(self.run_id, task.id, task.task, reason)

    def _start(self, task: Task):
        selection = self.selections.get(task.id)
        if selection is None:
            reason = self.selection_errors.get(task.id, "no model could be selected for it")
            self.errors[task.id] = reason
            yield ev.TaskFailed(self.run_id, task.id, task.task, "", reason, 0.0)
            return None
        try:
            args = resolve_args(task, self.task_types[task.task], self.results, self.attachments,
                                run_dir=self.run_dir, offline=self.offline)
        except HgptError as exc:
            self.errors[task.id] = str(exc)
            yield ev.TaskFailed(self.run_id, task.id, task.task, selection.model_id, str(exc), 0.0)
            return None
        if self.memo is not None:  # given by an earlier run, or in the results cache: not run again
            started = time.perf_counter()
            hit = self.memo.recall(task, selection.expert, args,
                                   ExpertContext(self.run_dir, task.id, request=self.request))
            if hit is not None:
                self.results[task.id] = hit.result
                yield ev.TaskFinished(self.run_id, task.id, task.task, selection.model_id, hit.result.text,
                                      [str(f) for f in hit.result.files], hit.result.data,
                                      time.perf_counter() - started, cached=True, provenance=hit.provenance)
                return None
        yield ev.TaskStarted(self.run_id, task.id, task.task, selection.model_id,
                             {k: str(v) for k, v in args.items()})
        return selection, args

    def _call(self, task: Task, args: dict) -> tuple[ExpertResult, dict]:
        expert = self.selections[task.id].expert
        self._started[task.id] = time.perf_counter()
        ctx = ExpertContext(self.run_dir, task.id, self.controller, self.cancel,
                            report=lambda done, total, unit: self._progress.put((task, done, total, unit)),
                            request=self.request)
        try:
            if self.memory is None:
                result = expert(task.task, args, ctx)
            else:
                with self.memory.use(expert):
                    result = expert(task.task, args, ctx)
        except Exception as exc:  # no half file is left; the message says what to do
            faults.remove_partial(ctx.written)
            if isinstance(exc, MemoryError):
                expert.unload()
            if isinstance(exc, HgptError) and not faults.is_disk_full(exc):
                raise
            raise ExpertError(faults.describe(exc, task.task, self.selections[task.id].model_id)) from exc
        provenance = self.memo.keep(task, expert, args, result) if self.memo is not None else {}
        return result, provenance

    def _finish(self, task: Task, future: Future, seconds: float) -> ev.Event:
        model_id = self.selections[task.id].model_id
        try:
            result, provenance = future.result()
        except Exception as exc:  # an expert's failure is recorded; the run goes on
            message = str(exc) if isinstance(exc, HgptError) else f"{type(exc).__name__}: {exc}"
            self.errors[task.id] = message
            return ev.TaskFailed(self.run_id, task.id, task.task, model_id, message, seconds)
        self.results[task.id] = result
        return ev.TaskFinished(self.run_id, task.id, task.task, model_id, result.text,
                               [str(f) for f in result.files], result.data, seconds, provenance=provenance)
