"""Stage 1: the controller turns a request into a task graph.

The reply is constrained by a grammar built from the allowed task types and the
attachments (``engine.grammar``), then parsed and repaired (``engine.plan``). The
planner is one object with two inputs a caller may narrow: the task types on offer
and the demonstrations shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from . import grammar, prompts
from .plan import Plan, parse
from .tasks import TASK_TYPES, TaskType

DemoPicker = Callable[[str, Mapping[str, str]], Sequence[dict]]
TaskNarrower = Callable[[str, Mapping[str, str], Sequence[TaskType]], Sequence[TaskType]]


@dataclass
class Planner:
    controller: object
    task_types: Sequence[TaskType] = field(default_factory=lambda: list(TASK_TYPES.values()))
    demos: DemoPicker | None = None
    narrow: TaskNarrower | None = None
    max_tasks: int = 6
    max_tokens: int = 400
    constrained: bool = True

    def plan(self, request: str, attachments: Mapping[str, str] | None = None,
             history: Sequence[dict] = ()) -> tuple[Plan, float]:
        attachments = dict(attachments or {})
        started = time.perf_counter()
        offered = list(self.narrow(request, attachments, self.task_types)) if self.narrow else list(self.task_types)
        demos = list(self.demos(request, attachments)) if self.demos else []
        messages = prompts.planning_messages(request, offered, attachments, demos, history)
        gbnf = grammar.plan_grammar(offered, attachments, self.max_tasks) if self.constrained else None
        raw = self.controller.complete(messages, grammar=gbnf, max_tokens=self.max_tokens)
        plan = parse(raw, {t.name: t for t in self.task_types}, attachments)
        return plan, time.perf_counter() - started
