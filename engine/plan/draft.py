"""The controller's own plan: tasks, arguments and links written in one call.

A capable controller plans better than any rail when it is given room: it sees the
request, every task type, retrieved demonstrations and the chat log, and writes
the whole plan in one reply under a grammar that keeps it well-formed (task names
from the task list, each task's argument keys, file slots only files the user
has, ``<resource>-j`` only to earlier tasks). The clause ranking is a hint, not a
cage: the ranked task types are named to the controller, every type is allowed.

Small models often chain the right tasks but forget to pass one task's output on
(they copy the request's text into every step). ``relink`` mends that by the rule
that linking the gold tasks of TaskBench by hand showed right three times in four:
a slot the controller filled with text it made up, or with an input an earlier
task already consumed, takes the latest earlier output of its modality that
nothing consumes yet. Explicit references are kept as written.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from ..tasks import TaskType, can_feed
from . import grammar
from .graph import RESOURCE_RE, Plan, Task

REF_SLOTS_FIRST = ("context", "text", "image", "audio")  # where an earlier output goes first


def hint_line(ranked: Sequence[TaskType], limit: int = 5) -> str:
    names = [t.name for t in ranked[:limit]]
    return "Task types that look relevant: " + ", ".join(names) + "." if names else ""


def write(controller, messages: list[dict], task_types: Sequence[TaskType], files: Mapping[str, str],
          max_tasks: int, max_tokens: int, cancel) -> str:
    """One call for the whole plan, constrained the way the controller understands."""
    gbnf = grammar.plan_grammar(task_types, files, max_tasks) if controller.accepts_grammar else None
    schema = grammar.plan_schema(task_types, max_tasks) if controller.accepts_schema else None
    return controller.complete(messages, grammar=gbnf, schema=schema, max_tokens=max_tokens, cancel=cancel)


def relink(plan: Plan, task_types: Mapping[str, TaskType], request_texts: Sequence[str],
           files: Mapping[str, str], edge_ok=None) -> list[str]:
    """Pass earlier outputs on where the controller forgot to; returns notes of what changed."""
    edge_ok = edge_ok or can_feed
    notes: list[str] = []
    consumed: set[int] = set()
    used_inputs: set[str] = set()
    for task in plan.tasks:
        ttype = task_types[task.task]
        for key in sorted(task.args, key=_slot_order):
            value = str(task.args[key])
            refs = [int(m) for m in RESOURCE_RE.findall(value)]
            if refs:
                consumed.update(refs)
                continue
            modality = ttype.args.get(key, "text")
            made_up = value not in files if modality != "text" else value.strip() not in request_texts
            repeated = value in used_inputs
            source = _latest_unconsumed(plan.tasks[: task.id], consumed, modality, task_types, ttype, edge_ok)
            if source is not None and (made_up or repeated):
                task.args[key] = f"<resource>-{source}"
                consumed.add(source)
                notes.append(f"task {task.id} ({task.task}): {key!r} takes the output of task {source}")
        used_inputs.update(str(v) for v in task.args.values() if not RESOURCE_RE.search(str(v)))
        task.dep = task.references() or [-1]
    return notes


def _slot_order(key: str) -> int:
    return REF_SLOTS_FIRST.index(key) if key in REF_SLOTS_FIRST else len(REF_SLOTS_FIRST)


def _latest_unconsumed(earlier: Sequence[Task], consumed: set[int], modality: str,
                       task_types: Mapping[str, TaskType], target: TaskType, edge_ok) -> int | None:
    for task in reversed(earlier):
        source = task_types[task.task]
        if task.id not in consumed and source.output == modality and edge_ok(source, target):
            return task.id
    return None
