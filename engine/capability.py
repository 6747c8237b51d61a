"""What the installed experts can really do, held against what a request asks.

A task type is broad; an expert often serves only part of it: RapidOCR serves
image-to-text by reading printed text, not by describing a scene; the MediaPipe
face detector serves object-detection for faces only. Experts say so in their
``scopes`` (``engine.experts.base.Scope``): what they do, and what people ask of
the task that they cannot do. ``fits`` compares the request with both by meaning
(MiniLM): an expert fits when the request is closer to what it does than to any
of its "not for" phrases. An expert without a scope fits whatever the task asks.

``adjust`` runs before selection. A task whose installed experts all misfit the
request is replaced by another task type of the same inputs and output whose
installed expert fits and whose scope answers the request ("what is in this
picture" with only OCR for image-to-text: image classification names what it
shows). Where nothing fits, the task stays as planned and selection says which
model would serve it, so a misfit expert's output is never reported as the
answer.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from .plan.graph import Plan
from .tasks import TaskType

Embed = Callable[[Sequence[str]], np.ndarray]
SUBSTITUTE = 0.45  # how close the request must be to a stand-in's scope for it to answer the request


def fits(expert, task: str, request: str, embed: Embed) -> bool:
    scope = expert.scopes.get(task)
    if scope is None or not scope.not_for:
        return True
    does = scope.phrases
    rows = embed([request, *does, *scope.not_for])
    sims = rows[1:] @ rows[0]
    return float(sims[: len(does)].max()) >= float(sims[len(does):].max())


def scope_score(expert, task: str, request: str, embed: Embed) -> float:
    """How close the request is to what the expert does in ``task`` (its description if no scope)."""
    scope = expert.scopes.get(task)
    texts = scope.phrases if scope is not None else (expert.description,)
    rows = embed([request, *texts])
    return float((rows[1:] @ rows[0]).max())


def misfit_reason(expert, task: str) -> str:
    scope = expert.scopes.get(task)
    return f"{expert.model_id} can only {scope.does}" if scope is not None else ""


def fitting(experts: Sequence, task: str, request: str, embed: Embed) -> list:
    return [e for e in experts if fits(e, task, request, embed)]


def adjust(plan: Plan, whole: str, registry, task_types: Mapping[str, TaskType], embed: Embed,
           clauses: Mapping[int, str] | None = None) -> list[str]:
    """Replace tasks whose installed experts cannot serve what was asked of them by a task
    that can (same inputs, same output); returns a note per replacement. A task is held
    against the clause that asked for it (``clauses``: task id -> clause), else the whole
    request: in "read the sign and describe the scene" the description is not the reading."""
    notes = []
    for task in plan.tasks:
        request = (clauses or {}).get(task.id) or whole
        installed = registry.for_task(task.task)
        if not installed or fitting(installed, task.task, request, embed):
            continue
        stand_in = _stand_in(task.task, request, registry, task_types, embed)
        if stand_in is None:
            continue
        old = task_types[task.task]
        reason = "; ".join(filter(None, (misfit_reason(e, task.task) for e in installed)))
        notes.append(f"task {task.id}: {task.task} became {stand_in.name}: {reason or 'no installed model fits'}")
        task.args = {new_key: task.args[old_key] for new_key, old_key in zip(stand_in.args, old.args)}
        task.task = stand_in.name
    return notes


def _stand_in(task: str, request: str, registry, task_types: Mapping[str, TaskType], embed: Embed):
    original = task_types[task]
    best, best_score = None, SUBSTITUTE
    for other in task_types.values():
        if other.name == task or other.output != original.output or list(other.args.values()) != list(original.args.values()):
            continue
        for expert in fitting(registry.for_task(other.name), other.name, request, embed):
            score = scope_score(expert, other.name, request, embed)
            if score > best_score:
                best, best_score = other, score
    return best
