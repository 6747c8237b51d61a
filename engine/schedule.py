"""Expert memory planned over a plan's whole schedule, not only reacted to.

``steps(tasks, max_workers)`` is the order the executor runs a plan in, as steps of
tasks that run at the same time: a task is ready once every task it depends on has
finished, and at most ``max_workers`` run together (lowest ids first, as the
executor submits them). ``simulate`` walks those steps with each task's expert and
its estimated memory and decides, the way ``engine.memory.MemoryManager`` does at
run time, what is loaded when: the experts of a step must all be in memory; to make
room, idle experts are unloaded, first those the rest of the plan never uses again
(least recently used first), then the one whose next use is farthest away (Belady's
rule, which reloads least). An expert a later task uses again stays loaded when it
fits. The result says, per task, whether its expert loads or is already loaded, the
peak memory during its step — the controller plus every expert held then — and what
is unloaded for it; and for the whole plan, the peak and how many loads it takes.

Pure arithmetic over ids and megabytes: no expert is built or loaded here, so a
pre-flight check of a six-task plan takes well under a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

INF = float("inf")


def steps(tasks: Sequence, max_workers: int = 2) -> list[list[int]]:
    """Task ids in the order they would run, grouped into steps that run at once.

    ``tasks`` are objects or dicts with ``id`` and ``dep`` (``-1`` meaning none)."""
    deps = {_id(t): [d for d in _dep(t) if d >= 0] for t in tasks}
    done: set[int] = set()
    pending = list(deps)
    out: list[list[int]] = []
    width = max(1, int(max_workers))
    while pending:
        ready = [i for i in pending if all(d in done or d not in deps for d in deps[i])][:width]
        if not ready:  # a cycle or a dangling dependency: the rest runs one by one, in order
            ready = pending[:1]
        out.append(ready)
        done.update(ready)
        pending = [i for i in pending if i not in ready]
    return out


def _id(task) -> int:
    return int(task["id"] if isinstance(task, Mapping) else task.id)


def _dep(task) -> list[int]:
    return list(task.get("dep", []) if isinstance(task, Mapping) else task.dep)


@dataclass
class TaskMemory:
    task_id: int
    model_id: str
    mb: float
    load: str  # "loads" | "loaded" (already in memory) | "none" (remote, or no model)
    peak_mb: float  # the controller and every expert held during this task's step
    with_models: list[str] = field(default_factory=list)  # the other experts held meanwhile
    unloads: list[str] = field(default_factory=list)  # idle experts unloaded to make room for it
    kept: bool = False  # stays loaded after it, for a later task
    over_budget: bool = False  # the step's experts together exceed the budget


@dataclass
class MemoryPlan:
    tasks: dict[int, TaskMemory]
    peak_mb: float
    loads: int
    budget_mb: float
    controller_mb: float

    def to_dict(self) -> dict:
        return {"peak_mb": round(self.peak_mb, 1), "loads": self.loads, "budget_mb": _finite(self.budget_mb),
                "controller_mb": round(self.controller_mb, 1)}


def _finite(value: float) -> float | None:
    return None if value == INF else round(value, 1)


def simulate(order: Sequence[Sequence[int]], models: Mapping[int, tuple[str, float]], budget_mb: float,
             controller_mb: float = 0.0, loaded: Mapping[str, float] | None = None) -> MemoryPlan:
    """What is in memory at each step of ``order``; ``models`` maps a task id to its expert's
    (model id, MB) — a task left out, or with an empty model id, loads nothing — and
    ``loaded`` is what is in memory before the first step (least recently used first)."""
    held: dict[str, float] = dict(loaded or {})  # insertion order = least recently used first
    uses = [models[t][0] for step in order for t in step if t in models and models[t][0]]
    position = 0
    result: dict[int, TaskMemory] = {}
    peak, loads = controller_mb + sum(held.values()), 0
    for step in order:
        wanted = {models[t][0]: models[t][1] for t in step if t in models and models[t][0]}
        position += sum(1 for t in step if t in models and models[t][0])
        later = uses[position:]
        needed = sum(mb for m, mb in wanted.items() if m not in held)
        unloaded = _make_room(held, wanted, needed, budget_mb, later)
        fresh = [m for m in wanted if m not in held]
        for model_id in wanted:
            held.pop(model_id, None)
            held[model_id] = wanted[model_id]  # most recently used now
        loads += len(fresh)
        now = controller_mb + sum(held.values())
        peak = max(peak, now)
        over = sum(held.values()) > budget_mb
        for t in step:
            model_id, mb = models.get(t, ("", 0.0))
            if not model_id:
                result[t] = TaskMemory(t, "", 0.0, "none", round(now, 1))
                continue
            result[t] = TaskMemory(
                t, model_id, round(mb, 1), "loads" if model_id in fresh else "loaded", round(now, 1),
                with_models=[m for m in held if m != model_id], unloads=list(unloaded),
                kept=model_id in later, over_budget=over)
    return MemoryPlan(result, peak, loads, budget_mb, controller_mb)


def _make_room(held: dict[str, float], wanted: Mapping[str, float], need: float, budget: float,
               later: Sequence[str]) -> list[str]:
    """Unload idle experts (not ``wanted`` now) until ``need`` more MB fit; returns their ids."""
    unloaded = []
    for model_id in victims([m for m in held if m not in wanted], later):
        if sum(held.values()) + need <= budget:
            break
        held.pop(model_id)
        unloaded.append(model_id)
    return unloaded


def victims(idle: Sequence[str], later: Sequence[str]) -> list[str]:
    """``idle`` model ids (least recently used first) in the order to unload them: those
    never used again first, then the one whose next use is farthest."""
    def next_use(model_id: str) -> float:
        try:
            return later.index(model_id)
        except ValueError:
            return INF

    rank = {m: i for i, m in enumerate(idle)}
    return sorted(idle, key=lambda m: (-next_use(m), rank[m]))
