"""The demonstration bank: worked plans the planner shows the controller.

``plans.jsonl`` holds the project's own example requests with their plans (single
tasks, chains, graphs and plain chat with the empty plan), written for hgpt's task
types and TaskBench's (one line each: ``request``, ``files`` name -> modality,
``plan`` [{"task", "id", "args"}]). ``cues.json`` holds, per task type, what
``engine.plan.ranking`` reads: ``phrases`` (short example requests, embedded beside
the task's description), ``keywords`` (regular expressions; a hit is a cue word the
user wrote), ``modifiers`` (patterns that name the task only in a clause where no
keyword of a text task fires: "in Korean"), ``only_when_named`` (the task is asked
only through its keywords: fill-mask) and ``needs_options`` (the task chooses among
options the request lists: zero-shot labels). In a pattern, ``{languages}`` stands for
the language names and ``{language_asked}`` for "in/into/to <language>"
(``engine.text``).

``DemoBank.retrieve`` picks the demonstrations most like a request by MiniLM
similarity, with maximal marginal relevance so the picks differ from each other,
and a bonus for demos whose tasks are all on offer for this request. A demo is
rewritten for the task list in use (``adapt``): task names are matched
ignoring case and punctuation ("image-classification" = "Image Classification"),
arguments are moved to the slots of the same modality in order, and a demo that
needs a task type the list lacks is not shown.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ...tasks import TaskType, norm_name

PLANS_PATH = Path(__file__).parent / "plans.jsonl"
COVERAGE_BONUS = 0.15


@dataclass(frozen=True)
class Demo:
    request: str
    files: dict[str, str] = field(default_factory=dict)
    plan: tuple[dict, ...] = ()

    @property
    def kind(self) -> str:
        if not self.plan:
            return "chat"
        if len(self.plan) == 1:
            return "single"
        refs = [re.findall(r"<resource>-(\d+)", json.dumps(t["args"])) for t in self.plan]
        chain = all(r == [str(i - 1)] for i, r in enumerate(refs) if i) and not refs[0]
        return "chain" if chain else "dag"

    def as_prompt(self) -> dict:
        return {"request": self.request, "attachments": dict(self.files), "plan": [dict(t) for t in self.plan]}


def load_demos(path: str | Path = PLANS_PATH) -> list[Demo]:
    demos = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        demos.append(Demo(item["request"], dict(item.get("files", {})), tuple(item.get("plan", []))))
    return demos


def adapt(demo: Demo, task_types: Mapping[str, TaskType]) -> Demo | None:
    """``demo`` with task names and argument keys of ``task_types``; None if one is missing."""
    by_norm = {norm_name(name): t for name, t in task_types.items()}
    plan = []
    for item in demo.plan:
        ttype = by_norm.get(norm_name(item["task"]))
        if ttype is None:
            return None
        values = list(item["args"].items())
        args = {}
        for key, modality in ttype.args.items():
            found = next((i for i, (k, v) in enumerate(values) if _modality_of(k, v, demo) == modality), None)
            if found is not None:
                args[key] = values.pop(found)[1]
        plan.append({"task": ttype.name, "id": item["id"], "args": args})
    return Demo(demo.request, demo.files, tuple(plan))


def _modality_of(key: str, value: str, demo: Demo) -> str:
    if value in demo.files:
        return demo.files[value]
    match = re.fullmatch(r"<resource>-(\d+)", value)
    if match:
        return {"image": "image", "audio": "audio", "video": "video"}.get(key, "text")
    return "text"


class DemoBank:
    """Demos with their request embeddings; ``retrieve`` picks varied, relevant ones."""

    def __init__(self, demos: Sequence[Demo] | None = None, embed: Callable[..., np.ndarray] | None = None,
                 cache_dir: Path | None = None):
        if embed is None:
            from ...embeddings import embed
        self.demos = list(load_demos() if demos is None else demos)
        self.embed = embed
        self.vectors = embed([d.request for d in self.demos], cache_dir=cache_dir) if self.demos else np.zeros((0, 1))

    def retrieve(self, request: str, task_types: Mapping[str, TaskType], k: int = 4,
                 offered: Sequence[str] = (), diversity: float = 0.3) -> list[Demo]:
        """Up to ``k`` demos, most relevant last (closest to the request in the prompt)."""
        adapted = [adapt(d, task_types) for d in self.demos]
        usable = [i for i, d in enumerate(adapted) if d is not None]
        if not usable or k <= 0:
            return []
        query = self.embed([request])[0]
        relevance = self.vectors[usable] @ query + COVERAGE_BONUS * np.array(
            [_coverage(adapted[i], set(offered)) for i in usable])
        picked = _mmr(relevance, self.vectors[usable], k, diversity)
        return [adapted[usable[i]] for i in reversed(picked)]


def _coverage(demo: Demo, offered: set[str]) -> float:
    if not offered or not demo.plan:
        return 0.0
    return sum(t["task"] in offered for t in demo.plan) / len(demo.plan)


def _mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, diversity: float) -> list[int]:
    """Maximal marginal relevance: each pick trades relevance against likeness to earlier picks."""
    picked: list[int] = []
    candidates = list(range(len(relevance)))
    while candidates and len(picked) < k:
        if picked:
            likeness = (vectors[candidates] @ vectors[picked].T).max(axis=1)
        else:
            likeness = np.zeros(len(candidates))
        gains = (1 - diversity) * relevance[candidates] - diversity * likeness
        best = candidates[int(np.argmax(gains))]
        picked.append(best)
        candidates.remove(best)
    return picked

