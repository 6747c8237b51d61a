"""Typed events a run yields, and how each stage is worded for people.

The CLI prints them; the window draws them; the server streams them. Every event is
a frozen dataclass with a ``kind`` string, and ``to_dict()`` gives a JSON-safe form
(paths as strings) for ``--json`` and the API.

``STAGES`` is the one table of stage names in words: ``title`` heads a section
("Choosing models"), ``doing`` fits "while …" ("choosing models").

Plan review is a question the run asks through the stream: with ``review=True`` the
engine yields ``ReviewRequested`` and waits for the consumer to answer with
``generator.send(decision)`` — a ``ReviewedPlan`` or ``Plan`` to run, or ``None``
to stop the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple


class Stage(NamedTuple):
    title: str  # "Choosing models"
    doing: str  # "choosing models": fits "while …"


STAGES = {
    "plan": Stage("Planning", "planning"),
    "review": Stage("Reviewing the plan", "reviewing the plan"),
    "select": Stage("Choosing models", "choosing models"),
    "preflight": Stage("Checking what the plan needs", "checking what the plan needs"),
    "execute": Stage("Running models", "running models"),
    "answer": Stage("Answer", "answering"),
    "compare": Stage("Comparing with the recorded run", "comparing with the recorded run"),
}


def stage_words(stage: str) -> Stage:
    return STAGES.get(stage, Stage(stage.capitalize(), stage))


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    run_id: str

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        return {"kind": self.kind, **_jsonable(asdict(self))}


@dataclass(frozen=True)
class RunStarted(Event):
    request: str
    attachments: list[str]
    run_dir: str


@dataclass(frozen=True)
class StageStarted(Event):
    stage: str  # "plan" | "select" | "execute" | "answer"


@dataclass(frozen=True)
class PlanReady(Event):
    tasks: list[dict]
    repairs: list[str]
    raw: str
    seconds: float
    writer: str = ""  # whose plan it is: "rails", "draft" (the controller's own), "triage" (answered directly)
    why: str = ""  # and why that one runs


@dataclass(frozen=True)
class ReviewRequested(Event):
    """The plan waits for the user: answer with ``send`` (see the module docstring)."""

    tasks: list[dict]
    problems: list[str]  # what was wrong with the previous answer (empty the first time)


@dataclass(frozen=True)
class PlanReviewed(Event):
    """The user approved the plan in review (``Engine.run(..., review=...)``)."""

    tasks: list[dict]
    models: dict[str, str]  # task id -> model the user pinned
    edited: bool


@dataclass(frozen=True)
class ModelSelected(Event):
    task_id: int
    task: str
    model_id: str
    reason: str
    candidates: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class PreflightReady(Event):
    """What the plan needs before any expert runs (``engine.preflight``): per task the model,
    installed or not, download size, memory and the plan's peak with it, and a verdict
    (runs | remote | download | no disk | too large | no model); ``summary`` has the
    budget, the controller's memory, the free disk, the total download and the commands
    that fetch what is missing. ``provisional``: the likely models, before selection (plan
    review). ``asks``: the run waits for ``send``: ``"fetch"`` downloads the missing
    models and runs, ``"run"`` goes on without them, None stops the run."""

    tasks: list[dict]
    summary: dict
    provisional: bool = False
    asks: bool = False


@dataclass(frozen=True)
class TaskStarted(Event):
    task_id: int
    task: str
    model_id: str
    args: dict


@dataclass(frozen=True)
class TaskProgress(Event):
    """How far a running task has got: ``done`` of ``total`` ``unit`` (``total`` 0: not known).

    Long experts report it through ``ExpertContext.progress`` (diffusion steps, seconds
    of audio transcribed, bytes downloaded); ``seconds`` is the time since the task started."""

    task_id: int
    task: str
    done: float
    total: float
    unit: str  # "steps", "s" (of audio), "bytes", "frames", …
    seconds: float

    @property
    def fraction(self) -> float | None:
        """0..1, or None when the total is not known."""
        return min(1.0, max(0.0, self.done / self.total)) if self.total > 0 else None


def progress_words(done: float, total: float, unit: str) -> str:
    """``12/25 steps``, ``3.5 of 10.2 s``, ``1.2 of 3.4 MB``; without a total, just the count."""
    if unit == "bytes":
        scale, unit = (2**30, "GB") if max(done, total) >= 2**30 else (2**20, "MB")
        done, total = done / scale, total / scale
        return f"{done:.1f} of {total:.1f} {unit}" if total > 0 else f"{done:.1f} {unit}"
    if unit == "s":
        return f"{done:.1f} of {total:.1f} s" if total > 0 else f"{done:.1f} s"
    if total > 0:
        return f"{done:g}/{total:g} {unit}".rstrip()
    return f"{done:g} {unit}".rstrip()


@dataclass(frozen=True)
class TaskFinished(Event):
    task_id: int
    task: str
    model_id: str
    text: str
    files: list[str]
    data: dict
    seconds: float
    cached: bool = False  # reused (results cache, or a re-run's unchanged task), not computed now
    provenance: dict = field(default_factory=dict)  # engine.provenance.task_provenance


@dataclass(frozen=True)
class TaskFailed(Event):
    task_id: int
    task: str
    model_id: str
    error: str
    seconds: float


@dataclass(frozen=True)
class TaskSkipped(Event):
    task_id: int
    task: str
    reason: str


@dataclass(frozen=True)
class ReplayCompared(Event):
    """A replay's outputs against the recorded run's (``Engine.replay``)."""

    of_run: str
    tasks: list[dict]  # per task: id, task, verdict (identical | within tolerance | differs | ...), why


@dataclass(frozen=True)
class Token(Event):
    """A piece of the direct answer, as the controller writes it."""

    text: str


@dataclass(frozen=True)
class AnswerDone(Event):
    text: str  # the whole answer as one text: direct answer, how it was done, what went wrong
    answer: dict  # the same, structured: {"direct": str, "workflow": [str], "notes": [str]}
    record: dict  # the whole run record (see engine.record.RunRecord.to_dict)


@dataclass(frozen=True)
class RunNotice(Event):
    """Something the user should know that does not stop the run (e.g. it is not recorded)."""

    message: str


@dataclass(frozen=True)
class RunCancelled(Event):
    stage: str


@dataclass(frozen=True)
class RunFailed(Event):
    error: str
    stage: str
