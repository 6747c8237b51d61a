"""The task graph: parse what the controller wrote, validate it, repair what can be.

A plan is a list of ``Task`` with ids 0..n-1 in order, each depending only on
earlier tasks. Arguments refer to an earlier task's output as ``<resource>-N``
(HuggingGPT also wrote ``<GENERATED>-N``; both are read). Dependencies are not
trusted as written: they are rebuilt from the resource references, which is what
the executor actually needs. A reference to a task whose output does not fit the
slot (audio where text is wanted) is removed, a missing input is filled from the
newest earlier output or attachment of the right modality, and a task that
repeats an earlier one exactly is dropped (references to it go to the first).
Each repair is recorded as a short note so a run record shows what the
controller got wrong.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping

from ..errors import PlanError
from ..tasks import TASK_TYPES, TaskType, can_feed, norm_name

RESOURCE_RE = re.compile(r"<(?:resource|generated)>-(\d+)", re.IGNORECASE)
MAX_TASKS = 8


@dataclass
class Task:
    id: int
    task: str
    dep: list[int]
    args: dict[str, str]

    def to_dict(self) -> dict:
        return asdict(self)

    def references(self) -> list[int]:
        refs = {int(m) for v in self.args.values() for m in RESOURCE_RE.findall(str(v))}
        return sorted(refs)


@dataclass
class Plan:
    tasks: list[Task] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    raw: str = ""

    def to_list(self) -> list[dict]:
        return [t.to_dict() for t in self.tasks]

    @classmethod
    def from_list(cls, tasks, repairs=(), raw: str = "") -> "Plan":
        """A plan from its dict form (``to_list``, an event's ``tasks``), taken as it is."""
        return cls([Task(int(t["id"]), str(t["task"]), list(t.get("dep", [-1])), dict(t.get("args", {})))
                    for t in tasks], list(repairs), raw)

    def __len__(self) -> int:
        return len(self.tasks)


def extract_json(raw: str):
    """The first JSON value in ``raw`` (models like to wrap it in prose or fences)."""
    text = raw.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "[{":
            try:
                return decoder.raw_decode(text, i)[0]
            except json.JSONDecodeError:
                continue
    raise PlanError(f"the controller's plan is not JSON: {raw[:120]!r}")


def match_task_name(name: str, task_types: Mapping[str, TaskType]) -> str | None:
    """Exact name, else a case/spacing-insensitive match ("Image Classification")."""
    if name in task_types:
        return name
    wanted = norm_name(name)
    for known in task_types:
        if norm_name(known) == wanted:
            return known
    return None


def _coerce_args(raw_args, ttype: TaskType, notes: list[str]) -> dict[str, str]:
    if isinstance(raw_args, str):
        raw_args = {next(iter(ttype.args)): raw_args}
    if isinstance(raw_args, list):
        raw_args = dict(zip(ttype.args, raw_args))
    if not isinstance(raw_args, dict):
        return {}
    args: dict[str, str] = {}
    for key, value in raw_args.items():
        if isinstance(value, (list, tuple)):
            value = value[0] if value else ""
        if value is None or isinstance(value, (dict, bool)):
            continue
        value = str(value)
        if key in ttype.args:
            args.setdefault(key, value)
            continue
        # An unknown key: keep the value under the first free slot of a matching modality.
        slot = next((k for k, m in ttype.args.items() if k not in args and m in str(key).lower()), None)
        slot = slot or next((k for k in ttype.args if k not in args and k not in raw_args), None)
        if slot:
            args[slot] = value
            notes.append(f"task {ttype.name}: argument {key!r} read as {slot!r}")
    return args


def _items(data) -> list:
    if isinstance(data, dict):
        for key in ("tasks", "plan", "task_nodes"):
            if isinstance(data.get(key), list):
                return data[key]
        return [data] if "task" in data else []
    if isinstance(data, list):
        return data
    raise PlanError("the controller's plan is not a list of tasks")


def repair(
    data,
    task_types: Mapping[str, TaskType] = TASK_TYPES,
    attachments: Mapping[str, str] | None = None,
    repeats=frozenset(),
) -> Plan:
    """Turn any JSON into a valid plan, or raise ``PlanError``.

    ``attachments`` maps a file name the user attached to its modality; a task whose
    required input is missing gets the newest matching earlier output or attachment.
    A task repeating an earlier one (same type, same arguments) is dropped unless its
    type is in ``repeats``.
    """
    at_hand = None if attachments is None else dict(attachments)  # None: file names go unchecked
    attachments = dict(attachments or {})
    plan = Plan()
    old_to_new: dict[int, int] = {}
    for position, item in enumerate(_items(data)[: MAX_TASKS * 2]):
        if len(plan.tasks) >= MAX_TASKS:
            plan.repairs.append(f"plan cut to {MAX_TASKS} tasks")
            break
        task = _repair_item(item, position, plan, old_to_new, task_types, attachments, at_hand, repeats)
        if task is not None:
            plan.tasks.append(task)
    return plan


def _repair_item(item, position, plan, old_to_new, task_types, attachments, at_hand=None,
                 repeats=frozenset()) -> Task | None:
    notes = plan.repairs
    if not isinstance(item, dict):
        notes.append(f"item {position} is not a task object; dropped")
        return None
    name = match_task_name(str(item.get("task", "")), task_types)
    if name is None:
        notes.append(f"unknown task {item.get('task')!r}; dropped")
        return None
    ttype = task_types[name]
    new_id = len(plan.tasks)
    old_id = item.get("id", position)
    try:
        old_to_new[int(old_id)] = new_id
    except (TypeError, ValueError, OverflowError):  # None, "a", NaN, 1e400
        pass
    args = _coerce_args(item.get("args", item.get("arguments", {})), ttype, notes)
    args = {k: _remap_refs(v, old_to_new, new_id, notes) for k, v in args.items()}
    args = {k: _drop_misfits(k, v, ttype, plan.tasks, task_types, notes) for k, v in args.items()}
    args = {k: _drop_unknown_file(k, v, ttype, at_hand, plan.tasks, task_types, notes) for k, v in args.items()}
    args = {k: v for k, v in args.items() if v.strip()}
    _fill_missing(args, ttype, plan.tasks, task_types, attachments, notes)
    if any(k not in args for k in ttype.required_args()):
        notes.append(f"task {new_id} ({name}) lacks {', '.join(ttype.required_args())}; dropped")
        return None
    twin = next((t for t in plan.tasks if t.task == name and t.args == args and name not in repeats), None)
    if twin is not None:  # the same task twice: later references go to the first
        with contextlib.suppress(TypeError, ValueError):
            old_to_new[int(old_id)] = twin.id
        notes.append(f"task {new_id} ({name}) repeats task {twin.id}; dropped")
        return None
    task = Task(id=new_id, task=name, dep=[], args=args)
    task.dep = task.references() or [-1]
    if "dep" in item and task.dep != _as_deps(item.get("dep")):
        notes.append(f"task {new_id}: dep rebuilt from resources as {task.dep}")
    return task


def _as_deps(dep) -> list[int]:
    if isinstance(dep, int):
        return [dep]
    try:
        return sorted({int(d) for d in dep}) if dep else [-1]
    except (TypeError, ValueError, OverflowError):
        return []


def _remap_refs(value: str, old_to_new: dict[int, int], new_id: int, notes: list[str]) -> str:
    def sub(m: re.Match) -> str:
        target = old_to_new.get(int(m.group(1)))
        if target is None or target >= new_id:
            notes.append(f"task {new_id}: dangling reference {m.group(0)} removed")
            return ""
        return f"<resource>-{target}"

    return RESOURCE_RE.sub(sub, value)


def _drop_misfits(key, value, ttype, earlier, task_types, notes) -> str:
    """Remove references to earlier tasks whose output is not what the slot takes."""
    modality = ttype.args.get(key, "text")

    def sub(m: re.Match) -> str:
        source = earlier[int(m.group(1))]
        produced = task_types[source.task].output
        if produced == modality:
            return m.group(0)
        notes.append(f"task {ttype.name}: {key!r} cannot take {m.group(0)} ({source.task} gives {produced})")
        return ""

    return RESOURCE_RE.sub(sub, value)


ADDRESS_RE = re.compile(r"[/\\:~]")  # a path or an address, not a bare file name


def _drop_unknown_file(key, value, ttype, at_hand, earlier, task_types, notes) -> str:
    """A file slot takes an earlier task's output or a file at hand of its kind. A bare file
    name not at hand is dropped (a draft wrote "birdsong.jpg" for the user's recording
    birdsong.m4a, and classified a picture nobody brought); so is a file at hand of another
    kind when an earlier output or a file of the slot's kind can take its place. The executor
    judges the rest and says why it refuses one: a file of the wrong kind with nothing to take
    its place ("clip.wav is audio, but …"), a path, an address (fetched when online)."""
    modality = ttype.args.get(key, "text")
    if (at_hand is None or modality == "text" or not value.strip() or RESOURCE_RE.search(value)
            or ADDRESS_RE.search(value) or at_hand.get(value) == modality):
        return value
    if value in at_hand and _filler(modality, {}, earlier, task_types, at_hand) is None:
        return value
    notes.append(f"task {ttype.name}: {key!r} names no {modality} at hand ({value!r}); dropped")
    return ""


def _filler(modality, args, earlier, task_types, attachments) -> str | None:
    """What fills a missing slot of ``modality``: the newest earlier output of that kind that
    ``args`` does not use yet, else the first file at hand of that kind; None when neither is."""
    source = next((t for t in reversed(earlier) if task_types[t.task].output == modality
                   and f"<resource>-{t.id}" not in args.values()), None)
    if source is not None:
        return f"<resource>-{source.id}"
    return next((n for n, m in attachments.items() if m == modality), None)


def _fill_missing(args, ttype, earlier, task_types, attachments, notes) -> None:
    for key in ttype.required_args():
        if key in args:
            continue
        value = _filler(ttype.args[key], args, earlier, task_types, attachments)
        if value is None:
            continue
        args[key] = value
        notes.append(f"task {ttype.name}: missing {key!r} filled with {args[key]!r}")


def renumber(tasks: Iterable[Task], new_id: Mapping[int, int]) -> list[Task]:
    """``tasks`` with their ids and ``<resource>-N`` references moved by ``new_id``, deps rebuilt."""
    def move(value):
        if not isinstance(value, str):
            return value
        return RESOURCE_RE.sub(lambda m: f"<resource>-{new_id[int(m.group(1))]}", value)

    moved = []
    for t in tasks:
        task = Task(new_id[t.id], t.task, [-1], {k: move(v) for k, v in t.args.items()})
        task.dep = task.references() or [-1]
        moved.append(task)
    return moved


def without(plan: Plan, drop: set[int]) -> Plan | None:
    """``plan`` without the tasks ``drop``, renumbered; None when a kept task uses one."""
    kept = [t for t in plan.tasks if t.id not in drop]
    if any(ref in drop for t in kept for ref in t.references()):
        return None
    return Plan(renumber(kept, {t.id: i for i, t in enumerate(kept)}), list(plan.repairs), plan.raw)


def parse(raw: str, task_types=TASK_TYPES, attachments=None, repeats=frozenset()) -> Plan:
    """Parse the controller's text into a repaired ``Plan``; a task of a type in ``repeats``
    may appear twice with the same arguments (asked for two purposes)."""
    try:
        data = extract_json(raw)
    except RecursionError:  # json gives up on very deep nesting
        raise PlanError("the controller's plan is nested too deeply to read; ask again") from None
    plan = repair(data, task_types, attachments, repeats)
    plan.raw = raw
    return plan


def validate(tasks: Iterable[Task], task_types=TASK_TYPES) -> list[str]:
    """Problems with a plan as given (empty when valid). Used on user-edited plans."""
    problems: list[str] = []
    tasks = list(tasks)
    for index, task in enumerate(tasks):
        if task.id != index:
            problems.append(f"task at position {index} has id {task.id}")
        if task.task not in task_types:
            problems.append(f"task {task.id}: unknown task type {task.task!r}")
            continue
        ttype = task_types[task.task]
        for key in ttype.required_args():
            if not str(task.args.get(key, "")).strip():
                problems.append(f"task {task.id}: missing argument {key!r}")
        for ref in task.references():
            if ref >= task.id:
                problems.append(f"task {task.id}: refers to later task {ref}")
            elif tasks[ref].task in task_types and not can_feed(task_types[tasks[ref].task], ttype):
                problems.append(
                    f"task {task.id}: {tasks[ref].task} produces {task_types[tasks[ref].task].output},"
                    f" which {task.task} does not take"
                )
    return problems
