"""Runs you can repeat: re-run part of a recorded run, or replay it whole.

``Engine.rerun(run_id, from_task, changes)`` re-runs task ``from_task`` and every task
that depends on it (and any task whose arguments or model ``changes`` really change — a
value given as it was recorded changes nothing — with its dependents); the other
tasks keep the recorded run's results, copied into the new run's folder, and are
reported as ``TaskFinished(cached=True)`` without running. The new run is recorded in
the same conversation, with ``origin`` naming the run it came from.

``Engine.replay(run_id)`` runs the recorded plan with the recorded models, computing
every task (the results cache is not read), and compares each output with the
recorded one (``engine.replay``).

Both read the recorded run through ``load_run``, which refuses, in one line, a run
that does not exist, whose folder was deleted, whose ``run.json`` is damaged or was
edited since (it no longer matches the history's copy, or an input's sha256 differs
from the recorded one). ``prepare_rerun`` checks the changes before anything is
written: a task that is not in the plan, an argument the task does not take, a value
of the wrong kind (a file slot given text, an image slot given audio, a reference to
a later task), a model that is not installed or cannot do the task.

A ``Script`` carries what the engine's stage loop needs to follow a recorded run
instead of planning: the plan, the model per task, the given results, the stages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import HgptError, UserInputError
from .experts.base import ExpertResult
from .plan.graph import RESOURCE_RE, Plan, Task, validate
from .results_cache import Given

RERUN_STAGES = ("plan", "select", "execute", "answer")
REPLAY_STAGES = ("plan", "select", "execute", "compare")


class RunRecordError(UserInputError):
    """A recorded run cannot be read as it was recorded (gone, damaged, edited)."""


@dataclass
class Changes:
    """What a re-run changes: arguments (task -> {arg: value}) and models (task -> model id)."""

    args: dict[int, dict[str, str]] = field(default_factory=dict)
    models: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, sets=(), models=()) -> "Changes":
        """From the command line's ``TASK.ARG=VALUE`` and ``TASK=MODEL`` strings."""
        out = cls()
        for item in sets or ():
            where, eq, value = str(item).partition("=")
            task, dot, arg = where.partition(".")
            if not eq or not dot or not arg.strip() or not task.strip().isdigit():
                raise UserInputError(f"--set {item!r}: write TASK.ARG=VALUE, e.g. --set 1.text='hello'")
            out.args.setdefault(int(task), {})[arg.strip()] = value
        for item in models or ():
            task, eq, model = str(item).partition("=")
            if not eq or not task.strip().isdigit() or not model.strip():
                raise UserInputError(f"--model {item!r}: write TASK=MODEL, e.g. --model 1=openai/whisper-tiny.en")
            out.models[int(task)] = model.strip()
        return out

    @classmethod
    def between(cls, recorded_plan, reviewed, recorded_models: dict | None = None) -> "Changes":
        """What a plan edited in the review editor (``engine.plan.review.ReviewedPlan``)
        changes in a recorded plan (dicts, as run.json has them): arguments and models. A
        re-run keeps the plan's tasks, so a task added, deleted or retyped is refused."""
        before = {int(t["id"]): t for t in recorded_plan}
        after = {t.id: t for t in reviewed.tasks}
        if set(before) != set(after) or any(before[i]["task"] != after[i].task for i in before):
            raise UserInputError("a re-run keeps the plan's tasks; change their arguments or models, "
                                 "or ask a new request for another plan")
        out = cls()
        for i, task in after.items():
            old_args = {k: str(v) for k, v in before[i].get("args", {}).items()}
            new_args = {k: str(v) for k, v in task.args.items()}
            changed = {k: new_args.get(k, "") for k in set(old_args) | set(new_args) if old_args.get(k) != new_args.get(k)}
            if changed:
                out.args[i] = changed
        for i, model in (reviewed.models or {}).items():
            if model and model != (recorded_models or {}).get(i):
                out.models[int(i)] = model
        return out

    def __bool__(self) -> bool:
        return bool(self.args or self.models)

    def to_dict(self) -> dict:
        return {"args": {str(k): v for k, v in self.args.items()}, "models": {str(k): v for k, v in self.models.items()}}


@dataclass
class Recorded:
    """A recorded run as its folder holds it, checked."""

    run_id: str
    run_dir: Path
    record: dict
    conversation_id: int | None = None

    @property
    def plan(self) -> Plan:
        return Plan.from_list(self.record.get("plan", []))

    def task_info(self, task_id: int) -> dict:
        return self.record.get("tasks", {}).get(str(task_id), {})

    def model_of(self, task_id: int) -> str:
        return (self.task_info(task_id).get("model_id")
                or self.record.get("selections", {}).get(str(task_id), {}).get("model_id", ""))

    def attachments(self) -> list[Path]:
        return [self.run_dir / "inputs" / name for name in self.record.get("attachments", [])]


@dataclass
class Script:
    """A recorded run for the stage loop to follow (see the module docstring)."""

    kind: str  # "rerun" | "replay"
    origin: dict
    plan: Plan
    models: dict[int, str]
    reasons: dict[int, str]
    given: dict[int, Given] = field(default_factory=dict)
    stages: tuple[str, ...] = RERUN_STAGES
    read_cache: bool = True
    recorded: Recorded | None = None

    def select(self, task: Task, registry, catalog, k: int):
        """The recorded (or changed) model for ``task``, as a selection; no controller call."""
        import time

        from .select import Selection, candidates_for

        model_id = self.models.get(task.id, "")
        if not model_id:
            from .errors import ModelFileError

            raise ModelFileError(f"the recorded run chose no model for task {task.id}; name one with "
                                 f"--model {task.id}=MODEL")
        started = time.perf_counter()
        if model_id not in registry:
            from .errors import ModelFileError

            raise ModelFileError(f"{model_id}, which the recorded run used for task {task.id}, is not installed "
                                 "here; install it, or re-run with --model "
                                 f"{task.id}=<one of: {', '.join(e.model_id for e in registry.for_task(task.task)) or 'none'}>")
        expert = registry.get(model_id)
        try:  # a kept task does not run: the catalog is not asked what else could have run it
            cards = [] if task.id in self.given else candidates_for(task, registry, catalog, k)
        except HgptError:
            cards = []
        if model_id not in {c["id"] for c in cards}:
            cards = [expert.card() | {"task": task.task}] + cards[: max(0, k - 1)]
        return Selection(task.id, model_id, self.reasons.get(task.id, ""), expert, cards,
                         time.perf_counter() - started)


# -- reading a recorded run --------------------------------------------------------------------
def load_run(run_id: str, runs_dir: Path, history=None) -> Recorded:
    """The recorded run ``run_id``, or a ``RunRecordError`` in one line."""
    run_id = str(run_id).strip()
    row = None
    if history is not None:
        try:
            row = history.run(run_id)
        except UserInputError:
            row = None
    if row is not None and row.run_dir:
        run_dir = Path(row.run_dir)
    elif run_id and all(c.isalnum() or c in "-_" for c in run_id) and (Path(runs_dir) / run_id).is_dir():
        run_dir = Path(runs_dir) / run_id
    else:
        raise RunRecordError(f"there is no run {run_id!r}; 'hgpt runs list' shows the runs there are")
    if not run_dir.is_dir():
        raise RunRecordError(f"run {run_id}'s folder {run_dir} was deleted; its record cannot be replayed "
                             "or re-run (ask the request again)")
    path = run_dir / "run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunRecordError(f"run {run_id}'s run.json is missing from {run_dir}; it cannot be replayed "
                             "or re-run") from None
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"run {run_id}'s run.json is damaged ({exc}); it cannot be replayed or "
                             "re-run") from None
    if not isinstance(record, dict) or record.get("run_id") != run_id or not isinstance(record.get("plan"), list):
        raise RunRecordError(f"{path} is not the record of run {run_id} (it was edited or replaced); "
                             "it cannot be replayed or re-run")
    if row is not None:
        _same_as_history(run_id, path, record, row)
    recorded = Recorded(run_id, run_dir, record, row.conversation_id if row is not None else None)
    _inputs_intact(recorded)
    return recorded


def _same_as_history(run_id: str, path: Path, record: dict, row) -> None:
    """The history keeps its own copy of the plan, selections and results; run.json must agree."""
    def plain(value):
        return json.loads(json.dumps(value, default=str))

    mine = {"plan": record.get("plan"), "results": _comparable(record.get("tasks", {}))}
    theirs = {"plan": row.plan, "results": _comparable(row.results)}
    if row.status != "running" and plain(mine) != plain(theirs):
        what = "plan differs" if plain(mine["plan"]) != plain(theirs["plan"]) else "results differ"
        raise RunRecordError(f"run {run_id}'s run.json was edited since the run (its {what} from "
                             f"the history's copy in hgpt.db); restore {path} or ask the request again")


def _comparable(tasks: Mapping) -> dict:
    return {k: {f: v.get(f) for f in ("status", "text", "files", "model_id")} for k, v in (tasks or {}).items()}


def _inputs_intact(recorded: Recorded) -> None:
    from .provenance import sha256_of

    hashes = recorded.record.get("provenance", {}).get("attachments", {})
    for path in recorded.attachments():
        if not path.is_file():
            raise RunRecordError(f"run {recorded.run_id}'s input {path.name} was deleted from {path.parent}; "
                                 "the run cannot be replayed or re-run")
        want = hashes.get(path.name)
        if want and sha256_of(path) != want:
            raise RunRecordError(f"run {recorded.run_id}'s input {path.name} was changed since the run "
                                 "(its sha256 differs from the record); it cannot be replayed or re-run")


def _given(recorded: Recorded, task_id: int) -> Given:
    """Task ``task_id``'s recorded result, its files checked against the recorded hashes."""
    from .provenance import sha256_of

    info = recorded.task_info(task_id)
    outputs = {f["file"]: f for f in info.get("provenance", {}).get("outputs", {}).get("files", [])}
    files = []
    for name in info.get("files", []):
        path = Path(name)
        path = path if path.is_absolute() else recorded.run_dir / path
        if not path.is_file():
            raise RunRecordError(f"run {recorded.run_id}'s output {path.name} (task {task_id}) was deleted; "
                                 f"re-run from task {task_id} or an earlier one")
        want = outputs.get(path.name, {}).get("sha256")
        if want and sha256_of(path) != want:
            raise RunRecordError(f"run {recorded.run_id}'s output {path.name} (task {task_id}) was changed since "
                                 f"the run; re-run from task {task_id} or an earlier one")
        files.append(path)
    result = ExpertResult(info.get("text", ""), files, dict(info.get("data", {})))
    return Given(result, dict(info.get("provenance", {})), recorded.run_id)


# -- re-run ------------------------------------------------------------------------------------
def dependents(plan: Plan, roots: set[int]) -> set[int]:
    """``roots`` and every task that depends on one of them, directly or not."""
    out = set(roots)
    for task in plan.tasks:  # tasks depend only on earlier ones: one pass in order
        if any(d in out for d in task.dep if d >= 0) or any(r in out for r in task.references()):
            out.add(task.id)
    return out


def _check_task(plan: Plan, task_id: int, recorded: Recorded) -> Task:
    for task in plan.tasks:
        if task.id == task_id:
            return task
    listed = ", ".join(f"{t.id} ({t.task})" for t in plan.tasks) or "none: it answered directly"
    raise UserInputError(f"run {recorded.run_id} has no task {task_id}; its tasks are {listed}")


def _check_value(task: Task, arg: str, value: str, task_types, attachments: Mapping[str, str],
                 plan: Plan, recorded: Recorded) -> tuple[str, Path | None]:
    """The value to put in the plan, and a new file to attach (or None); wrong kinds refused."""
    from .files import modality_of

    ttype = task_types[task.task]
    if arg not in ttype.args:
        raise UserInputError(f"task {task.id} ({task.task}) has no argument {arg!r}; its arguments are "
                             f"{', '.join(ttype.args)}")
    modality = ttype.args[arg]
    value = str(value)
    if modality == "text":
        for ref in RESOURCE_RE.findall(value):
            if int(ref) >= task.id:
                raise UserInputError(f"task {task.id}'s {arg} may refer only to earlier tasks' outputs, "
                                     f"not <resource>-{ref}")
        return value, None
    whole = RESOURCE_RE.fullmatch(value.strip())
    if whole:
        source = int(whole.group(1))
        made = task_types[plan.tasks[source].task].output if source < task.id else ""
        if source >= task.id or made != modality:
            raise UserInputError(f"task {task.id}'s {arg} needs {_a(modality)}; <resource>-{source} "
                                 + ("is not an earlier task" if source >= task.id else f"is {_a(made)}"))
        return value.strip(), None
    name = value.strip()
    if name in attachments:
        if attachments[name] != modality:
            raise UserInputError(f"task {task.id}'s {arg} needs {_a(modality)}; {name} is {_a(attachments[name])}")
        return name, None
    path = Path(name).expanduser()
    if path.is_file():
        if modality_of(path) != modality:
            raise UserInputError(f"task {task.id}'s {arg} needs {_a(modality)}; {path.name} is "
                                 f"{_a(modality_of(path) or 'unknown kind of file')}")
        return path.name, path
    raise UserInputError(f"task {task.id}'s {arg} needs {_a(modality)}: one of the run's attachments "
                         f"({', '.join(attachments) or 'none'}), a file path, or <resource>-N; "
                         f"{clip_value(value)!r} is none of these")


def clip_value(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def prepare_rerun(recorded: Recorded, from_task: int, changes: Changes, task_types, registry) -> tuple[Script, list[Path]]:
    """The script of a re-run from ``from_task`` with ``changes``, and its attachments (the
    recorded ones, plus files ``changes`` name). Every problem is a ``UserInputError``."""
    from .files import modality_of

    plan = recorded.plan
    if not plan.tasks:
        raise UserInputError(f"run {recorded.run_id} had no tasks (it answered directly); there is nothing to re-run")
    _check_task(plan, int(from_task), recorded)
    attachments = {p.name: modality_of(p) for p in recorded.attachments()}
    extra: list[Path] = []
    touched: set[int] = set()  # tasks whose arguments or model really change (a value as recorded is no change)
    for task_id, values in changes.args.items():
        task = _check_task(plan, task_id, recorded)
        for arg, value in values.items():
            checked, new_file = _check_value(task, arg, value, task_types, attachments, plan, recorded)
            if new_file is not None or checked.strip() != str(task.args.get(arg, "")).strip():
                touched.add(task_id)
            if new_file is not None:
                if new_file.name in attachments:
                    raise UserInputError(f"{new_file.name} has the name of one of the run's attachments; "
                                         "rename it or name that attachment")
                attachments[new_file.name] = modality_of(new_file)
                extra.append(new_file)
            if checked.strip():
                task.args[arg] = checked
            else:
                task.args.pop(arg, None)
        task.dep = task.references() or ([d for d in task.dep if d < 0] or [-1])
    models = {t.id: recorded.model_of(t.id) for t in plan.tasks}
    reasons = {t.id: f"as recorded in run {recorded.run_id}" for t in plan.tasks}
    for task_id, model_id in changes.models.items():
        task = _check_task(plan, task_id, recorded)
        _check_model(task, model_id, registry)
        if model_id != models[task_id]:
            models[task_id], reasons[task_id] = model_id, "changed by you for this re-run"
            touched.add(task_id)
    problems = validate(plan.tasks, task_types)
    if problems:
        raise UserInputError("the changed plan has problems: " + "; ".join(problems))
    again = dependents(plan, {int(from_task)} | touched)
    # a task that did not finish in the recorded run has no result to keep: it runs again
    again |= dependents(plan, {t.id for t in plan.tasks if recorded.task_info(t.id).get("status") != "done"})
    given = {t.id: _given(recorded, t.id) for t in plan.tasks if t.id not in again}
    origin = {"kind": "rerun", "run_id": recorded.run_id, "from_task": int(from_task), "changes": changes.to_dict(),
              "rerun_tasks": sorted(again), "kept_tasks": sorted(given)}
    # the tasks to run again are computed, not read from the results cache: that is what was asked
    script = Script("rerun", origin, plan, models, reasons, given, RERUN_STAGES, False, recorded)
    return script, recorded.attachments() + extra


def _check_model(task: Task, model_id: str, registry) -> None:
    if model_id not in registry:
        able = ", ".join(e.model_id for e in registry.for_task(task.task)) or "none is installed"
        raise UserInputError(f"{model_id!r} is not an installed model; models that can do task {task.id} "
                             f"({task.task}): {able}")
    expert = registry.get(model_id)
    if task.task not in expert.tasks:
        raise UserInputError(f"{model_id} cannot do task {task.id} ({task.task}); it does {', '.join(expert.tasks)}")
    missing = expert.missing()
    if missing:
        raise UserInputError(f"{model_id} cannot run here: {missing}")


# -- replay ------------------------------------------------------------------------------------
def prepare_replay(recorded: Recorded) -> tuple[Script, list[Path]]:
    plan = recorded.plan
    if not plan.tasks:
        raise UserInputError(f"run {recorded.run_id} had no tasks (it answered directly); there is nothing to replay")
    models = {t.id: recorded.model_of(t.id) for t in plan.tasks}
    reasons = {t.id: f"as recorded in run {recorded.run_id}" for t in plan.tasks}
    origin = {"kind": "replay", "run_id": recorded.run_id}
    script = Script("replay", origin, plan, models, reasons, {}, REPLAY_STAGES, False, recorded)
    return script, recorded.attachments()
