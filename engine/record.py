"""Run folders and run records: the one fold of a run's events.

Every run gets a folder under the data folder (``runs/<time>-<id>/``) that holds
its artifacts and ``run.json``, the whole record: request, plan, selections with
candidates and reasons, per-task results and timings, artifact paths, and the
answer in its parts (the direct answer, the workflow steps, notes on what went
wrong). ``RunRecord.apply`` folds events into it; the engine, the history store
and the views all read this one record rather than folding events themselves.
The record is written atomically (temp file, then rename) at start and at end,
so an interrupted run is still on disk, marked as such.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import events as ev


def new_run_dir(runs_dir: Path) -> tuple[str, Path]:
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    path = runs_dir / run_id
    path.mkdir(parents=True, exist_ok=False)
    return run_id, path


def write_json_atomic(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False))
        os.replace(tmp, path)
    except BaseException:  # no half-written temp file is left behind (e.g. disk full)
        tmp.unlink(missing_ok=True)
        raise


def peak_rss_mb() -> float:
    """The process's peak resident memory in MB (engine.memory handles each OS's units)."""
    from .memory import peak_rss_mb as peak

    return peak()


@dataclass
class RunRecord:
    run_id: str
    run_dir: str
    request: str
    attachments: list[str]
    controller: str = ""
    status: str = "running"  # running | done | failed | cancelled | interrupted
    plan: list[dict] = field(default_factory=list)
    plan_raw: str = ""
    planned_by: dict = field(default_factory=dict)  # whose plan ran and why (PlanReady.writer, .why)
    repairs: list[str] = field(default_factory=list)
    selections: dict[str, dict] = field(default_factory=dict)
    tasks: dict[str, dict] = field(default_factory=dict)
    answer: str = ""  # the direct answer
    workflow: list[str] = field(default_factory=list)  # one line per task: what ran and what came of it
    notes: list[str] = field(default_factory=list)  # what went wrong outside any task
    asked: str = ""  # an earlier request this run asked again, of this turn's file ("and this one?")
    error: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    started_at: float = field(default_factory=time.time)
    provenance: dict = field(default_factory=dict)  # the controller and libraries (engine.provenance)
    origin: dict = field(default_factory=dict)  # a re-run or replay: the run it came from
    replay: dict = field(default_factory=dict)  # a replay's verdicts (ReplayCompared)
    preflight: dict = field(default_factory=dict)  # what the plan needed (PreflightReady): tasks, summary

    def apply(self, event: ev.Event) -> None:
        """Fold one event into the record."""
        if isinstance(event, ev.PlanReady):
            self.plan, self.repairs, self.plan_raw = event.tasks, event.repairs, event.raw
            self.planned_by = {"writer": event.writer, "why": event.why} if event.writer else {}
            self.timings["plan"] = event.seconds
        elif isinstance(event, ev.PlanReviewed):
            self.plan = event.tasks
            if event.edited:
                self.repairs = self.repairs + ["plan edited by the user in review"]
        elif isinstance(event, ev.ModelSelected):
            self.selections[str(event.task_id)] = {
                "task": event.task, "model_id": event.model_id, "reason": event.reason,
                "candidates": event.candidates, "seconds": event.seconds}
        elif isinstance(event, ev.TaskStarted):
            self.tasks[str(event.task_id)] = {"task": event.task, "model_id": event.model_id,
                                              "args": event.args, "status": "running"}
        elif isinstance(event, ev.TaskFinished):
            self.tasks.setdefault(str(event.task_id), {}).update(
                task=event.task, model_id=event.model_id, status="done", text=event.text,
                files=event.files, data=event.data, seconds=event.seconds, cached=event.cached,
                provenance=event.provenance)
            self.artifacts += event.files
        elif isinstance(event, ev.TaskFailed):
            self.tasks.setdefault(str(event.task_id), {}).update(
                task=event.task, model_id=event.model_id, status="failed", error=event.error,
                seconds=event.seconds)
        elif isinstance(event, ev.TaskSkipped):
            self.tasks[str(event.task_id)] = {"task": event.task, "status": "skipped", "error": event.reason}
        elif isinstance(event, ev.PreflightReady):
            self.preflight = {"tasks": event.tasks, "summary": event.summary, "provisional": event.provisional}
        elif isinstance(event, ev.ReplayCompared):
            self.replay = {"of_run": event.of_run, "tasks": event.tasks}

    def results(self) -> list[dict]:
        """Per-task outcomes in plan order, for the answer prompt and the summary."""
        out = []
        for task in self.plan:
            info = self.tasks.get(str(task["id"]), {})
            out.append({"id": task["id"], "task": task["task"], "args": task["args"],
                        "model_id": info.get("model_id") or self.selections.get(str(task["id"]), {}).get("model_id", ""),
                        "status": info.get("status", "not run"), "text": info.get("text", ""),
                        "files": info.get("files", []), "error": info.get("error", ""),
                        "data": info.get("data", {})})
        return out

    @property
    def text(self) -> str:
        """The whole answer as one text (``engine.answer.compose``)."""
        from .answer import compose

        return compose(self.answer, self.workflow, self.notes)

    def answer_parts(self) -> dict:
        return {"direct": self.answer, "workflow": list(self.workflow), "notes": list(self.notes)}

    @property
    def run_dir_path(self) -> Path:
        return Path(self.run_dir)

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self) -> None:
        write_json_atomic(Path(self.run_dir) / "run.json", self.to_dict())
