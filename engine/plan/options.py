"""How the planner is assembled: its switches, and the parts it is built from.

``PlanningOptions`` is the one list of the planner's switches (each rail can be
switched off for the ablations in ``scripts/eval_taskbench.py``). ``default_planner``
decides the planner's inputs for a controller: the task types (hgpt's own, or
another list such as TaskBench's tools), the ranker that narrows them per request,
the demonstration bank, and the edge check. The ranker and the bank embed their
fixed texts once; with ``cache_dir`` the vectors are kept on disk by a hash of
their text, so a fresh process does not embed them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import MissingDependencyError, ModelFileError
from ..tasks import TASK_TYPES, TaskType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanningOptions:
    grammar: bool = True  # constrain the reply to valid plans
    stepwise: bool = True  # one task per call, with per-position grammars
    narrow: bool = True  # rank task types per clause and offer the top ones
    retrieval: bool = True  # retrieved demonstrations (else none)
    top_k: int = 5  # task types on offer
    n_demos: int = 3
    list_all: bool = True  # list every task type in the prompt (a cacheable prefix), else the offered
    free_text: bool = False  # text slots may take any short string (else spans of the request)
    guided: bool = True  # step k is steered to the k-th clause's task types
    per_clause: int = 1  # how many of a clause's task types the controller chooses from
    max_tasks: int = 6
    max_tokens: int = 400  # a whole plan in one call
    step_tokens: int = 120  # one task of a plan written step by step


def _optional(build, what: str):
    """A rail that cannot be built (its model missing) is left out with a warning:
    the controller still plans, only less well."""
    try:
        return build()
    except (ModelFileError, MissingDependencyError) as exc:
        log.warning("planning without %s: %s", what, exc)
        return None


def default_planner(controller, *, task_types: Sequence[TaskType] | None = None,
                    options: PlanningOptions | None = None, edge_ok=None, cache_dir: Path | None = None):
    from .demos import DemoBank
    from .planner import Planner
    from .ranking import TaskRanker

    options = options or PlanningOptions()
    types = list(task_types if task_types is not None else TASK_TYPES.values())
    ranker = _optional(lambda: TaskRanker(types, cache_dir=cache_dir), "task ranking") if options.narrow else None
    bank = _optional(lambda: DemoBank(cache_dir=cache_dir), "retrieved demonstrations") if options.retrieval else None
    return Planner(controller, types, options, ranker=ranker, bank=bank, edge_ok=edge_ok)
