"""Stage 2: pick an expert model for each task.

Candidates are the catalog's top-K cards for the task type among models that can
run on this machine (an installed expert whose ``missing()`` is None), ranked by
downloads; with a ``source`` (``engine.ondemand``: the network allowed, or an
inference endpoint) also models that are not installed — pullable ones, or ones an
endpoint runs — and the chosen model's expert comes from the source. One candidate
needs no LLM call, and neither does an installed first candidate used ten times as much
as any other (``_far_ahead``); otherwise the controller picks, constrained by a grammar to
the candidate ids, and its reason is kept.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Sequence

from .cancel import CancelToken
from .errors import NoExpertError
from .experts.base import Expert
from .plan import grammar
from .plan.graph import Task


@dataclass
class Selection:
    task_id: int
    model_id: str
    reason: str
    expert: Expert
    candidates: list[dict] = field(default_factory=list)
    seconds: float = 0.0


SELECT_SPEC = (
    "Given the user request and the task, select the most suitable model from the list. "
    'Reply in JSON: {"id": model id, "reason": why this model}.'
)

def selection_messages(request: str, task: dict, candidates: Sequence[dict]) -> list[dict]:
    listing = "\n".join(
        f"- {c['id']}: {c.get('description', '')[:160]} (downloads {c.get('downloads', 0)})"
        for c in candidates
    )
    return [
        {"role": "system", "content": SELECT_SPEC},
        {"role": "user", "content": f"Request: {request}\nTask: {json.dumps(task)}\nModels:\n{listing}"},
    ]


def _install_hint(task: str, catalog, installed: bool | None = None) -> str:
    """Nothing installed runs ``task``, and how to get a model for it."""
    return f"no installed model can run {task}.{_where_to_get(task, catalog, installed)}"


def _where_to_get(task: str, catalog, installed: bool | None = None) -> str:
    """How to get a model for ``task`` (``installed=False``: only ones not installed yet), as a
    sentence after a space."""
    known = catalog.top_k(task, 3, installed=installed) if catalog is not None else []
    names = ", ".join(c["id"] for c in known)
    hint = f" Known models for it: {names}; get one with: hgpt models pull NAME --online." if names else ""
    pinned = _pinned_for(task) if not names else []
    if pinned:
        hint = f" models.lock pins {', '.join(pinned)} for it; get it with: hgpt models pull {pinned[0]} --online."
    elif not names:
        hint = " No model for it is known here; 'hgpt catalog sync' fetches model cards when online."
    return hint


def _pinned_for(task: str) -> list[str]:
    """Names in models.lock whose model does ``task`` (what ``hgpt models pull`` accepts)."""
    try:
        from .models.lock import load_lock

        return [e.name for e in load_lock() if task in e.tasks][:3]
    except Exception:  # a broken lock must not hide the real problem
        return []


def candidates_for(task: Task, registry, catalog, k: int, request: str = "", embed=None,
                   source=None) -> list[dict]:
    """The top ``k`` cards among installed experts that can run ``task`` here and, given
    the request (and ``embed``), that can do what it asks (``engine.capability``); with a
    ``source``, the models it adds (not installed), by downloads, the best installed one kept."""
    runnable = {e.model_id: e for e in registry.for_task(task.task)}
    if request and embed is not None:
        from .capability import fits

        runnable = {m: e for m, e in runnable.items() if fits(e, task.task, request, embed)}
    cards = catalog.top_k(task.task, k, among=list(runnable)) if catalog is not None else []
    seen = {c["id"] for c in cards}
    extra = [e.card() | {"task": task.task} for e in runnable.values() if e.model_id not in seen]
    cards = (cards + sorted(extra, key=lambda c: -c["downloads"]))[:k]
    if source is not None:
        added = source.candidates(task.task, k, exclude={c["id"] for c in cards})
        merged = sorted(cards + added, key=lambda c: -int(c.get("downloads") or 0))[:k]
        if cards and not any(c["id"] == cards[0]["id"] for c in merged):
            merged[-1] = cards[0]  # the best installed model stays a candidate
        cards = merged
    return cards


def no_candidates(task: Task, registry, catalog) -> NoExpertError:
    """Why ``task`` has no candidate: nothing installed runs it, or what is installed cannot
    do what was asked of it (and what it can do)."""
    installed = registry.for_task(task.task)
    if not installed:
        return NoExpertError(_install_hint(task.task, catalog))
    from .capability import misfit_reason

    reasons = "; ".join(filter(None, (misfit_reason(e, task.task) for e in installed)))
    return NoExpertError(f"no installed model can do this {task.task}: {reasons}."
                         + _where_to_get(task.task, catalog, installed=False))


def select(task: Task, request: str, registry, catalog, controller, k: int = 5,
           cancel: CancelToken | None = None, embed=None, source=None, clause: str = "") -> Selection:
    """The model for ``task``: candidates that can do what ``clause`` (the words that asked for
    the task; else the request) asks, the controller's pick among them given the request."""
    started = time.perf_counter()
    cards = candidates_for(task, registry, catalog, k, clause or request, embed, source)
    if not cards:
        raise no_candidates(task, registry, catalog)
    if len(cards) == 1:
        only = "installed model" if cards[0].get("installed", True) is not False else "candidate"
        chosen, reason = cards[0]["id"], f"the only {only} for {task.task}"
    elif lead := _far_ahead(cards):
        chosen, reason = cards[0]["id"], lead
    else:
        chosen, reason = _ask(controller, request, task, cards, cancel)
    if source is not None:
        card = next(c for c in cards if c["id"] == chosen)
        expert = source.expert(chosen, card, task.task, registry)
    else:
        expert = registry.get(chosen)
    return Selection(task.id, chosen, reason, expert, cards, time.perf_counter() - started)


FAR_AHEAD = 10  # how many times any other candidate's downloads an installed first one needs to be taken unasked


def _far_ahead(cards: list[dict]) -> str:
    """Why the first candidate is taken without asking the controller, or '': it is installed
    and used at least ``FAR_AHEAD`` times as much as any other. A small controller's pick
    between such candidates is noise: asked "when is the meeting?" of a voice memo, Qwen2.5-Coder-1.5B
    chose PocketSphinx (no Hub figure) over Whisper (about 100,000), and the transcript was
    nonsense."""
    first, *others = [int(c.get("downloads") or 0) for c in cards]
    if cards[0].get("installed", True) is False or first < FAR_AHEAD * max(max(others), 1):
        return ""
    return (f"used far more than the other candidates ({first:,} downloads against at most "
            f"{max(others):,}); taken without asking the controller")


def _ask(controller, request: str, task: Task, cards: list[dict], cancel=None) -> tuple[str, str]:
    ids = [c["id"] for c in cards]
    messages = selection_messages(request, task.to_dict(), cards)
    raw = controller.complete(messages, grammar=grammar.choice_grammar(ids), max_tokens=80, cancel=cancel)
    try:
        reply = json.loads(raw)
        if reply.get("id") in ids:
            return reply["id"], str(reply.get("reason", "")).strip() or "chosen by the controller"
    except (json.JSONDecodeError, AttributeError):
        pass
    return ids[0], "the controller's pick was unreadable; took the most downloaded"
