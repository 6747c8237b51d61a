"""What a view shows of a run's task graph: one node per task, laid out in layers.

``RunView`` folds a run's events (or a saved run from the history store) into
per-task ``Node`` states — task, arguments, chosen model, status, seconds, the
candidates selection considered and the controller's reason — and places each
node in a layer (one more than the deepest task it depends on) and a row within
that layer. The desktop's plan panel draws exactly this; it holds no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .. import events as ev

STATUSES = ("planned", "selected", "running", "done", "failed", "skipped")


@dataclass
class Node:
    id: int
    task: str
    args: dict
    dep: list[int]
    status: str = "planned"
    model_id: str = ""
    reason: str = ""
    candidates: list[dict] = field(default_factory=list)
    seconds: float | None = None
    text: str = ""
    files: list[str] = field(default_factory=list)
    error: str = ""
    layer: int = 0
    row: int = 0


def layout(tasks: Iterable[dict]) -> dict[int, tuple[int, int]]:
    """``{task id: (layer, row)}``; tasks only depend on earlier ones, so one pass suffices."""
    layer: dict[int, int] = {}
    rows: dict[int, int] = {}
    out = {}
    for t in tasks:
        deps = [d for d in t.get("dep", []) if d >= 0 and d in layer]
        layer[t["id"]] = 1 + max((layer[d] for d in deps), default=-1)
        row = rows.get(layer[t["id"]], 0)
        rows[layer[t["id"]]] = row + 1
        out[t["id"]] = (layer[t["id"]], row)
    return out


class RunView:
    """The current state of one run's graph, updated one event at a time."""

    def __init__(self) -> None:
        self.run_id = ""
        self.nodes: dict[int, Node] = {}
        self.stage = ""
        self.status = ""

    def set_plan(self, tasks: list[dict]) -> None:
        old = self.nodes
        self.nodes = {}
        places = layout(tasks)
        for t in tasks:
            node = Node(t["id"], t["task"], dict(t.get("args", {})), list(t.get("dep", [])))
            node.layer, node.row = places[t["id"]]
            if t["id"] in old and old[t["id"]].task == node.task:
                node.model_id = old[t["id"]].model_id
            self.nodes[node.id] = node

    def apply(self, event: ev.Event) -> set[int]:
        """Fold one event; returns the ids of nodes it changed (all on a new plan)."""
        if isinstance(event, ev.RunStarted):
            self.__init__()
            self.run_id, self.status = event.run_id, "running"
            return set()
        if isinstance(event, (ev.PlanReady, ev.PlanReviewed)):
            self.set_plan(event.tasks)
            return set(self.nodes)
        if isinstance(event, ev.StageStarted):
            self.stage = event.stage
            return set()
        if isinstance(event, (ev.AnswerDone, ev.RunFailed, ev.RunCancelled)):
            self.status = {"AnswerDone": "done", "RunFailed": "failed"}.get(event.kind, "cancelled")
            return set()
        node = self.nodes.get(getattr(event, "task_id", -1))
        if node is None:
            return set()
        _fold(node, event)
        return {node.id}

    def load(self, plan: list[dict], selections: dict, results: dict, status: str = "") -> None:
        """A saved run: its plan, selections and per-task results (as stored)."""
        self.set_plan(plan)
        self.status = status
        for key, sel in selections.items():
            node = self.nodes.get(int(key))
            if node:
                node.status, node.model_id = "selected", sel.get("model_id", "")
                node.reason, node.candidates = sel.get("reason", ""), sel.get("candidates", [])
        for key, res in results.items():
            node = self.nodes.get(int(key))
            if node:
                node.status = res.get("status", node.status)
                node.model_id = res.get("model_id") or node.model_id
                node.seconds, node.text = res.get("seconds"), res.get("text", "")
                node.files, node.error = list(res.get("files", [])), res.get("error", "")

    def ordered(self) -> list[Node]:
        return [self.nodes[i] for i in sorted(self.nodes)]


def _fold(node: Node, event: ev.Event) -> None:
    if isinstance(event, ev.ModelSelected):
        node.status, node.model_id, node.reason = "selected", event.model_id, event.reason
        node.candidates = list(event.candidates)
    elif isinstance(event, ev.TaskStarted):
        node.status, node.model_id = "running", event.model_id or node.model_id
    elif isinstance(event, ev.TaskFinished):
        node.status, node.seconds, node.text, node.files = "done", event.seconds, event.text, list(event.files)
    elif isinstance(event, ev.TaskFailed):
        node.status, node.seconds, node.error = "failed", event.seconds, event.error
        node.model_id = event.model_id or node.model_id
    elif isinstance(event, ev.TaskSkipped):
        node.status, node.error = "skipped", event.reason
