"""Plan review: the user sees the plan before it runs, may edit it, then approves.

``Engine.run(..., review=callback)`` calls ``callback(plan, problems)`` after
planning, in the engine's thread; the callback returns a ``ReviewedPlan`` (or a
plain ``Plan``) to run, or ``None`` to stop the run. The engine checks the answer
with ``check`` — ``engine.plan.graph.validate`` plus "is the pinned model installed and
able to do that task" — and, while there are problems, asks again with them.

``PlanDraft`` is the editing model a view drives (no Qt here): change a task's
type, set or clear an argument, pin a model, delete a task. Deleting renumbers
the later tasks and rewrites their ``<resource>-N`` references; a reference to the
deleted task is cleared, so ``problems()`` names the argument the user must fill.
Dependencies are always rebuilt from the references, as the planner does.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .graph import RESOURCE_RE, Plan, Task, validate
from ..tasks import TASK_TYPES, TaskType

MAX_REVIEW_ROUNDS = 20


@dataclass
class ReviewedPlan:
    """What the user approved: the tasks, and the model pinned for some of them."""

    tasks: list[Task]
    models: dict[int, str] = field(default_factory=dict)  # task id -> model id
    edited: bool = True


ReviewCallback = Callable[[Plan, list[str]], "ReviewedPlan | Plan | None"]


def as_reviewed(decision, original: Plan) -> ReviewedPlan:
    if isinstance(decision, ReviewedPlan):
        return decision
    if isinstance(decision, Plan):
        return ReviewedPlan(decision.tasks, {}, decision.to_list() != original.to_list())
    raise TypeError(f"a review callback returns a ReviewedPlan, a Plan or None, not {type(decision).__name__}")


def check(reviewed: ReviewedPlan, task_types: Mapping[str, TaskType] = TASK_TYPES,
          registry=None) -> list[str]:
    """Problems with an approved plan: graph problems, then pinned-model problems."""
    problems = validate(reviewed.tasks, task_types)
    by_id = {t.id: t for t in reviewed.tasks}
    for task_id, model_id in sorted(reviewed.models.items()):
        task = by_id.get(task_id)
        if task is None:
            problems.append(f"a model is pinned for task {task_id}, which is not in the plan")
        elif registry is not None:
            problems += _model_problems(task, model_id, registry)
    return problems


def _model_problems(task: Task, model_id: str, registry) -> list[str]:
    if model_id not in registry:
        return [f"task {task.id}: {model_id!r} is not an installed model; pick one from the list"]
    expert = registry.get(model_id)
    if task.task not in expert.tasks:
        return [f"task {task.id}: {model_id} cannot do {task.task}; it does {', '.join(expert.tasks)}"]
    missing = expert.missing()
    return [f"task {task.id}: {model_id} cannot run here: {missing}"] if missing else []


def pinned_selection(task: Task, model_id: str, registry, catalog, k: int):
    """A selection the user made in review: no controller call, candidates still shown."""
    from ..select import Selection, candidates_for

    started = time.perf_counter()
    cards = candidates_for(task, registry, catalog, k)
    if model_id not in {c["id"] for c in cards}:
        cards = [registry.get(model_id).card() | {"task": task.task}] + cards[: k - 1]
    return Selection(task.id, model_id, "chosen by you in plan review", registry.get(model_id),
                     cards, time.perf_counter() - started)


class PlanDraft:
    """An editable copy of a plan (the plan review panel's model)."""

    def __init__(self, plan: Plan | Sequence[Task], task_types: Mapping[str, TaskType] = TASK_TYPES,
                 registry=None):
        tasks = plan.tasks if isinstance(plan, Plan) else plan
        self.original = [t.to_dict() for t in tasks]
        self.tasks: list[Task] = [copy.deepcopy(t) for t in tasks]
        self.models: dict[int, str] = {}
        self.task_types, self.registry = task_types, registry

    @classmethod
    def from_list(cls, tasks: Sequence[Mapping], task_types: Mapping[str, TaskType] = TASK_TYPES,
                  registry=None) -> "PlanDraft":
        """A draft of a plan given as dicts (``ReviewRequested.tasks``)."""
        return cls(Plan.from_list(tasks), task_types, registry)

    def task(self, task_id: int) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(f"no task {task_id} in the plan; tasks are {[t.id for t in self.tasks]}")

    def set_task(self, task_id: int, name: str) -> None:
        """Change a task's type, keeping the arguments the new type also takes."""
        ttype = self.task_types[name]
        task = self.task(task_id)
        task.task = name
        task.args = {k: v for k, v in task.args.items() if k in ttype.args}
        self.models.pop(task_id, None)
        self._rebuild_deps()

    def set_arg(self, task_id: int, key: str, value: str) -> None:
        task = self.task(task_id)
        if value.strip():
            task.args[key] = value
        else:
            task.args.pop(key, None)
        self._rebuild_deps()

    def set_model(self, task_id: int, model_id: str | None) -> None:
        """Pin a model for a task; ``None`` or "" lets selection choose."""
        self.task(task_id)
        if model_id:
            self.models[task_id] = model_id
        else:
            self.models.pop(task_id, None)

    def delete(self, task_id: int) -> None:
        self.tasks = [t for t in self.tasks if t.id != task_id]
        mapping = {t.id: new for new, t in enumerate(self.tasks)}
        self.models = {mapping[i]: m for i, m in self.models.items() if i in mapping}
        for t in self.tasks:
            t.id = mapping[t.id]
            t.args = {k: v for k, v in ((k, _remap(v, mapping)) for k, v in t.args.items()) if v.strip()}
        self._rebuild_deps()

    def _rebuild_deps(self) -> None:
        for t in self.tasks:
            t.dep = t.references() or [-1]

    def models_for(self, task_id: int) -> list[str]:
        """Installed models that can run the task (for a model chooser)."""
        if self.registry is None:
            return []
        return [e.model_id for e in self.registry.for_task(self.task(task_id).task)]

    def problems(self) -> list[str]:
        return check(self.result(), self.task_types, self.registry)

    @property
    def edited(self) -> bool:
        return bool(self.models) or [t.to_dict() for t in self.tasks] != self.original

    def result(self) -> ReviewedPlan:
        return ReviewedPlan([copy.deepcopy(t) for t in self.tasks], dict(self.models), self.edited)


def _remap(value: str, mapping: Mapping[int, int]) -> str:
    def sub(m):
        new = mapping.get(int(m.group(1)))
        return "" if new is None else f"<resource>-{new}"

    return RESOURCE_RE.sub(sub, value)
