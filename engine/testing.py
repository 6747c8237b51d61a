"""Test helpers that ship with the engine: a scripted controller, and one that writes given plans.

``ScriptedController`` replaces the LLM only in unit tests of the code around it
(planning repair, selection parsing, scheduling, events). It answers from a queue
and records every call, like llm's ``MockModel``. It cannot continue a reply it did
not begin, so the planner gives it one call for the whole plan.
"""

from __future__ import annotations

from typing import Callable, Iterator

from . import events as ev
from .controller.base import Controller, FirstChoice


class ScriptedController(Controller):
    name = "scripted"
    accepts_grammar = True

    def __init__(self, replies: list[str] | None = None):
        super().__init__()
        self.replies: list[str] = list(replies or [])
        self.calls: list[dict] = []

    def enqueue(self, *replies: str) -> "ScriptedController":
        self.replies.extend(replies)
        return self

    def _next(self) -> str:
        if not self.replies:
            raise AssertionError("ScriptedController has no reply queued")
        return self.replies.pop(0)

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None) -> str:
        self.calls.append({"messages": messages, "grammar": grammar, "stream": False})
        if cancel is not None:
            cancel.check()
        return self._next()

    def stream(self, messages, *, max_tokens=512, cancel=None) -> Iterator[str]:
        self.calls.append({"messages": messages, "grammar": None, "stream": True})
        reply = self._next()
        for i in range(0, len(reply), 8):
            if cancel is not None:
                cancel.check()
            yield reply[i : i + 8]


class PlanWriter(FirstChoice):
    """The rails as a rule (the first choice at every step) and, for the controller's own
    plan, the plan the test gives for each request (``plans``: request -> task list; any
    other request gets an empty plan): a controller that plans better than the rails, or
    worse, for tests of what the planner does with its plans (``engine.plan.calibration``)."""

    name = "plan-writer"

    def __init__(self, plans: dict[str, list[dict]] | None = None):
        super().__init__()
        self.plans = dict(plans or {})

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None) -> str:
        import json

        asked = messages[-1]["content"]
        return json.dumps(next((plan for request, plan in self.plans.items() if request in asked), []))


def collect(stream, review: Callable | None = None) -> list[ev.Event]:
    """Every event of a run; ``review(plan, problems)`` answers each ``ReviewRequested``
    (a ``Plan`` or ``ReviewedPlan`` to run, or None to stop), as a window would."""
    from .plan.graph import Plan

    events, reply = [], None
    while True:
        try:
            event = stream.send(reply)
        except StopIteration:
            return events
        events.append(event)
        reply = None
        if isinstance(event, ev.ReviewRequested):
            reply = review(Plan.from_list(event.tasks), list(event.problems)) if review else None


def scripted_planner(controller):
    """A planner that takes the controller's plan exactly as written: no triage, no
    relinking (for tests of the code around planning with a ``ScriptedController``)."""
    from .plan.options import PlanningOptions
    from .plan.planner import Planner

    return Planner(controller, options=PlanningOptions(triage=False, relink=False))
