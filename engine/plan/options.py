"""How the default planner is assembled: which tasks it offers, which demos it shows.

``default_planner`` is the one place that decides the planner's inputs for a
request: the task types (hgpt's own, or another list such as TaskBench's tools),
the ranker that narrows them per request, the demonstration bank, and the edge
check. ``PlanningOptions`` switches each rail off for the ablations in
``scripts/eval_taskbench.py``. The ranker and the bank embed their texts once, so
they are built once per task list and kept.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from ..errors import MissingDependencyError, ModelFileError
from .planner import EdgeCheck, Planner
from ..tasks import TASK_TYPES, TaskType


@dataclass(frozen=True)
class PlanningOptions:
    grammar: bool = True  # constrain the reply to valid plans
    stepwise: bool = True  # one task per call, with per-position grammars
    narrow: bool = True  # offer only the top-ranked task types
    retrieval: bool = True  # retrieved demonstrations (else none)
    top_k: int = 5
    n_demos: int = 3
    list_all: bool = True  # list every task type in the prompt (a cacheable prefix), else the offered
    free_text: bool = False  # text slots may take any short string (else spans of the request)
    guided: bool = True  # step k is steered to the k-th clause's task types
    per_clause: int = 1  # how many of a clause's task types the controller chooses from
    max_tasks: int = 6


log = logging.getLogger(__name__)
_RANKERS: dict[tuple, object] = {}


def _ranker(task_types: tuple[TaskType, ...]):
    from .ranking import TaskRanker

    key = tuple((t.name, t.description) for t in task_types)
    if key not in _RANKERS:
        _RANKERS[key] = TaskRanker(task_types)
    return _RANKERS[key]


def _optional(build, what: str):
    """A rail that cannot be built (its model missing) is left out with a warning:
    the controller still plans, only less well."""
    try:
        return build()
    except (ModelFileError, MissingDependencyError) as exc:
        log.warning("planning without %s: %s", what, exc)
        return None


def default_planner(controller, registry=None, *, task_types: Sequence[TaskType] | None = None,
                    options: PlanningOptions | None = None, edge_ok: EdgeCheck | None = None) -> Planner:
    from .demos import default_bank

    options = options or PlanningOptions()
    types = tuple(task_types if task_types is not None else TASK_TYPES.values())
    return Planner(
        controller, list(types),
        constrained=options.grammar, stepwise=options.stepwise,
        ranker=_optional(lambda: _ranker(types), "task ranking") if options.narrow else None,
        bank=_optional(default_bank, "retrieved demonstrations") if options.retrieval else None,
        n_demos=options.n_demos, top_k=options.top_k, free_text=options.free_text,
        max_tasks=options.max_tasks, edge_ok=edge_ok, guided=options.guided,
        per_clause=options.per_clause, list_all=options.list_all,
    )
