"""What a view shows of a run's task graph: one node per task, laid out in layers.

``RunView`` keeps the run's ``RunRecord`` — the one fold of a run's events
(``RunRecord.apply``) — and reads each task's ``Node`` from it: task, arguments,
chosen model, status, seconds, the candidates selection considered and the
controller's reason. A saved run from the history store becomes a record too, so
a live run and a reopened one are drawn from the same data. Each node sits in a
layer (one more than the deepest task it depends on) and a row within that
layer. A running task also has the time it started (for "time so far") and its
latest ``TaskProgress`` (done of total, in its unit), which the record does not keep.
The desktop's plan panel draws exactly this; it holds no Qt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable

from .. import events as ev
from ..record import RunRecord

STATUSES = ("planned", "selected", "running", "done", "failed", "skipped")
VERDICT_WORDS = {"runs": ("runs here", "run here"), "remote": ("runs remotely", "run remotely"),
                 "download": ("needs a download", "need a download"), "no disk": ("needs more disk", "need more disk"),
                 "too large": ("is too large", "are too large"), "no model": ("has no model", "have no model")}


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
    cached: bool = False  # taken from the results cache or the run it re-runs, not computed
    layer: int = 0
    row: int = 0
    started_at: float | None = None  # time.monotonic() when it started running (live runs only)
    progress: tuple[float, float, str] | None = None  # latest (done, total, unit) while it runs
    verdict: str = ""  # pre-flight's (engine.preflight): runs | remote | download | no disk | too large | no model
    verdict_words: str = ""  # the same for people: "needs a download of 340 MB"

    @property
    def fraction(self) -> float | None:
        """How far the running task is, 0..1, when it reported a total."""
        if self.progress is None or self.progress[1] <= 0:
            return None
        return min(1.0, max(0.0, self.progress[0] / self.progress[1]))

    def elapsed(self, now: float | None = None) -> float | None:
        """Seconds so far while it runs (or while its model downloads); the time it took
        once it ended."""
        if self.started_at is not None and (self.status == "running" or self.progress is not None):
            return (time.monotonic() if now is None else now) - self.started_at
        return self.seconds


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
        self.record = RunRecord("", "", "", [])
        self.nodes: dict[int, Node] = {}
        self.stage = ""
        self.status = ""
        self.asks = False  # the run waits for an answer to its pre-flight (download and run, or not)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def apply(self, event: ev.Event) -> set[int]:
        """Fold one event; returns the ids of nodes it changed (all on a new plan)."""
        if isinstance(event, ev.RunStarted):
            self.__init__()
            self.record = RunRecord(event.run_id, event.run_dir, event.request, list(event.attachments))
            self.status = "running"
            return set()
        self.record.apply(event)
        if isinstance(event, (ev.PlanReady, ev.PlanReviewed)):
            return self._rebuild()
        if isinstance(event, ev.PreflightReady):
            self.asks = event.asks
            for node in self.nodes.values():
                self._refresh(node)
            return set(self.nodes)
        if isinstance(event, ev.StageStarted):
            self.stage = event.stage
        elif isinstance(event, ev.AnswerDone):
            self.status = "done"
        elif isinstance(event, ev.RunFailed):
            self.status = "failed"
        elif isinstance(event, ev.RunCancelled):
            self.status = "cancelled"
        task_id = getattr(event, "task_id", None)
        if task_id in self.nodes:
            node = self.nodes[task_id]
            if isinstance(event, ev.TaskProgress):
                node.progress = (event.done, event.total, event.unit)
                if node.started_at is None:
                    node.started_at = time.monotonic() - event.seconds
                return {task_id}
            if isinstance(event, ev.TaskStarted):
                node.started_at, node.progress = time.monotonic(), None
            self._refresh(node)
            if node.status != "running":
                node.progress = None
            return {task_id}
        return set()

    def load(self, plan: list[dict], selections: dict, results: dict, status: str = "", run_id: str = "") -> None:
        """A saved run: its plan, selections and per-task results (as stored)."""
        self.record = RunRecord(run_id, "", "", [], plan=list(plan), selections=dict(selections), tasks=dict(results))
        self.status = status
        self._rebuild()

    def _rebuild(self) -> set[int]:
        old = self.nodes
        self.nodes = {}
        places = layout(self.record.plan)
        for t in self.record.plan:
            node = Node(t["id"], t["task"], dict(t.get("args", {})), list(t.get("dep", [])))
            node.layer, node.row = places[t["id"]]
            if t["id"] in old and old[t["id"]].task == node.task:
                node.model_id = old[t["id"]].model_id
            self._refresh(node)
            self.nodes[node.id] = node
        return set(self.nodes)

    def _refresh(self, node: Node) -> None:
        """The node's state as the record has it."""
        sel = self.record.selections.get(str(node.id), {})
        res = self.record.tasks.get(str(node.id), {})
        check = next((t for t in self.record.preflight.get("tasks", []) if t.get("task_id") == node.id), None)
        if check is not None:
            node.verdict, node.verdict_words = check.get("verdict", ""), check.get("words", "")
            if not sel and check.get("model_id") and not node.model_id:
                node.model_id = check["model_id"]  # the likely model (provisional), or the suggestion
        if sel:
            node.status, node.model_id = "selected", sel.get("model_id", "") or node.model_id
            node.reason, node.candidates = sel.get("reason", ""), list(sel.get("candidates", []))
        if res:
            node.status = res.get("status", node.status)
            node.model_id = res.get("model_id") or node.model_id
            node.seconds, node.text = res.get("seconds"), res.get("text", "")
            node.files, node.error = list(res.get("files", [])), res.get("error", "")
            node.cached = bool(res.get("cached"))

    def preflight_words(self) -> str:
        """The pre-flight in a sentence: what runs, what needs a download and the command, the peak."""
        pre = self.record.preflight
        if not pre:
            return ""
        tasks, summary = pre.get("tasks", []), pre.get("summary", {})
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t["verdict"]] = counts.get(t["verdict"], 0) + 1
        said = ", ".join(f"{n} task{'s' * (n != 1)} {VERDICT_WORDS.get(v, (v, v))[n != 1]}"
                         for v, n in counts.items())
        parts = [f"{'Likely models' if pre.get('provisional') else 'Pre-flight'}: {said}"]
        if summary.get("commands"):
            size = summary.get("download_mb") or 0
            parts.append((f"{size:,.0f} MB to download" if size else "downloads of unknown size")
                         + " (" + "; ".join(summary["commands"]) + ")")
        if summary.get("peak_mb"):
            budget = summary.get("budget_mb")
            parts.append(f"peak memory {summary['peak_mb']:,.0f} MB" + (f" of a {budget:,.0f} MB budget" if budget else ""))
        return "; ".join(parts) + "."

    def ordered(self) -> list[Node]:
        return [self.nodes[i] for i in sorted(self.nodes)]
