"""TaskBench (HuggingFace tools) as a yardstick for the planner.

Three parts, each usable alone. *Loading*: the benchmark's records, its tool list
turned into hgpt ``TaskType``s (a tool's input types become argument slots,
``text`` and ``text2`` when a tool takes two texts; a tool without an output type
produces ``"none"``, which nothing can consume) and its tool graph as a set of
allowed (source, target) links. *Adapting*: an hgpt ``Plan`` written in TaskBench's
form (``<resource>-j`` becomes ``<node-j>``, arguments in slot order).
*Scoring*: the metrics of TaskBench's ``evaluate.py`` (microsoft/JARVIS) — node
micro-F1 over tool names, link binary F1, task–argument-name F1 (t-F1),
task–argument-name–value F1 (v-F1) and the normalised edit distance of the tool
sequence — re-implemented without scikit-learn or Levenshtein. As there, links and
argument names come from the ``<node-j>`` references in the arguments (not from
``task_links``), a reference's argument is named by the source tool's output type
and valued by the source tool's name, and a tool name outside the tool list
counts for nothing in node F1. One deliberate difference: a plan that failed to
parse or validate is scored as an empty prediction instead of being dropped, so a
planner cannot gain by failing on hard records.

The irregular records (``task_nodes`` as a dict of steps, non-string arguments,
references past the end) are read as well as they can be and never raise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .tasks import TaskType

NODE_RE = re.compile(r"<node-(\d+)>")
IMAGE_EXT = ("jpg", "png", "jpeg", "gif", "bmp", "tiff", "svg", "ico")
AUDIO_EXT = ("mp3", "wav", "wma", "ogg", "aac", "flac", "aiff", "au")
VIDEO_EXT = ("mp4", "avi", "mov", "flv", "wmv", "mkv", "webm", "m4v", "mpg", "mpeg")
SPLITS = ("overall", "single", "chain", "dag")


# -- loading ------------------------------------------------------------------------
def load_records(path: str | Path) -> list[dict]:
    """The JSON-lines records of a TaskBench split (blank lines skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def load_tools(path: str | Path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data["nodes"] if isinstance(data, dict) else data


def load_graph(path: str | Path) -> set[tuple[str, str]]:
    """The tool graph's links as (source, target) tool names."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {(link["source"], link["target"]) for link in data.get("links", [])}


def _slot_names(inputs: Sequence[str]) -> list[str]:
    names, seen = [], {}
    for modality in inputs:
        seen[modality] = seen.get(modality, 0) + 1
        names.append(modality if seen[modality] == 1 else f"{modality}{seen[modality]}")
    return names


def task_types_from_tools(tools: Iterable[dict]) -> list[TaskType]:
    """hgpt task types for TaskBench tools: name = tool id, slots from input types."""
    types = []
    for tool in tools:
        inputs = list(tool.get("input-type") or ["text"])
        args = dict(zip(_slot_names(inputs), inputs))
        outputs = tool.get("output-type") or []
        types.append(TaskType(tool["id"], args, outputs[0] if outputs else "none",
                              tool.get("desc", ""), tuple(args)[:1]))
    return types


def output_types(tools: Iterable[dict]) -> dict[str, str]:
    return {t["id"]: (t.get("output-type") or ["none"])[0] for t in tools}


# -- adapting -----------------------------------------------------------------------
def record_nodes(record: dict) -> list[dict]:
    """A record's ``task_nodes`` as a list, whatever shape it was stored in."""
    nodes = record.get("task_nodes") or []
    if isinstance(nodes, dict):
        nodes = [nodes[k] for k in sorted(nodes)]
    return [n for n in nodes if isinstance(n, dict) and "task" in n]


def plan_to_nodes(plan) -> list[dict]:
    """An hgpt plan (a ``Plan``, a list of ``Task`` or of task dicts) as TaskBench nodes."""
    tasks = plan.tasks if hasattr(plan, "tasks") else plan
    nodes = []
    for task in tasks:
        item = task if isinstance(task, dict) else task.to_dict()
        args = [re.sub(r"<(?:resource|generated)>-(\d+)", r"<node-\1>", str(v))
                for v in item.get("args", {}).values()]
        nodes.append({"task": item["task"], "arguments": args})
    return nodes


def nodes_to_links(nodes: Sequence[dict]) -> list[dict]:
    names = [n["task"] for n in nodes]
    return [{"source": names[s], "target": names[t]} for s, t in _node_refs(nodes)]


def record_demo(record: dict, task_types: Mapping[str, TaskType]):
    """A record as a demonstration for the planner (``engine.plan.demos.Demo``): its
    instruction, the files its arguments name, and its nodes as a plan with
    ``<resource>-j`` links. Arguments go to slots by modality (a file by its
    extension, a reference by its source's output, anything else is text), in the
    order written; what no slot takes is dropped. None for a record whose nodes
    name an unknown tool or refer to a later node, which a plan cannot."""
    from .plan.demos import Demo

    nodes = record_nodes(record)
    names = [str(n["task"]) for n in nodes]
    if not nodes or any(name not in task_types for name in names):
        return None
    files: dict[str, str] = {}
    plan = []
    for index, node in enumerate(nodes):
        ttype = task_types[names[index]]
        free = list(ttype.args.items())
        args: dict[str, str] = {}
        for arg in node.get("arguments", []) or []:
            text = _arg_text(arg).strip()
            match = NODE_RE.fullmatch(text)
            if match:
                source = int(match.group(1))
                if source >= index:
                    return None
                modality, value = task_types[names[source]].output, f"<resource>-{source}"
            else:
                modality = content_type(text)
                value = text.strip("'")
                if modality != "text":
                    files[value] = modality
            slot = next((key for key, kind in free if kind == modality), None)
            if slot is not None:
                args[slot] = value
                free = [(key, kind) for key, kind in free if key != slot]
        plan.append({"task": ttype.name, "id": index, "args": args})
    return Demo(str(record.get("instruction", "")), files, tuple(plan))


def _node_refs(nodes: Sequence[dict]) -> list[tuple[int, int]]:
    refs = []
    for target, node in enumerate(nodes):
        for arg in node.get("arguments", []) or []:
            for match in NODE_RE.finditer(_arg_text(arg)):
                source = int(match.group(1))
                if source != target and 0 <= source < len(nodes):
                    refs.append((source, target))
    return refs


def _arg_text(arg) -> str:
    if isinstance(arg, dict):
        arg = next(iter(arg.values()), "")
    if isinstance(arg, list):
        arg = " ".join(str(a) for a in arg)
    return str(arg)


# -- scoring ------------------------------------------------------------------------
def content_type(value: str) -> str:
    """TaskBench's guess of an argument's type from a file extension in it."""
    value = value.strip("'")
    for kind, exts in (("image", IMAGE_EXT), ("audio", AUDIO_EXT), ("video", VIDEO_EXT)):
        if any("." + ext in value for ext in exts):
            return kind
    return "text"


@dataclass
class Graph:
    """One plan reduced to what the metrics compare."""

    names: list[str]
    links: set[tuple[str, str]]
    arg_names: set[str]
    arg_values: set[str]


def graph_of(nodes: Sequence[dict], out_types: Mapping[str, str]) -> Graph:
    names = [str(n["task"]).replace("_", " ") for n in nodes]
    links, arg_names, arg_values = set(), set(), set()
    for index, node in enumerate(nodes):
        for arg in node.get("arguments", []) or []:
            text = _arg_text(arg)
            match = NODE_RE.search(text)
            if match:
                source = int(match.group(1))
                if source == index or not 0 <= source < len(names):
                    continue
                links.add((names[source], names[index]))
                name, value = out_types.get(names[source], "other"), names[source]
            else:
                name, value = content_type(text), text
            arg_names.add(f"{names[index]}-{name}")
            arg_values.add(f"{names[index]}-{name}-{value}")
    return Graph(names, links, arg_names, arg_values)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0


def indel_ratio(a: Sequence, b: Sequence) -> float:
    """``Levenshtein.ratio``: 1 - indel distance / (len a + len b); 1.0 for two empties."""
    if not a and not b:
        return 1.0
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
        prev = row
    return 2 * prev[-1] / (len(a) + len(b))


@dataclass
class Scores:
    """Running totals for one split; ``summary()`` gives the metrics in percent."""

    tool_ids: dict[str, int]
    nodes: Counts = field(default_factory=Counts)
    links: Counts = field(default_factory=Counts)
    arg_names: Counts = field(default_factory=Counts)
    arg_values: Counts = field(default_factory=Counts)
    ratio_sum: float = 0.0
    n: int = 0
    failed: int = 0
    empty: int = 0

    def add(self, gold: Graph, pred: Graph, failed: bool = False) -> None:
        known = set(self.tool_ids)
        self.nodes.add(set(gold.names) & known, set(pred.names) & known)
        self.links.add(gold.links, pred.links)
        self.arg_names.add(gold.arg_names, pred.arg_names)
        self.arg_values.add(gold.arg_values, pred.arg_values)
        ids = lambda names: [self.tool_ids.get(n, 0) for n in names]  # noqa: E731
        self.ratio_sum += indel_ratio(ids(pred.names), ids(gold.names))
        self.n += 1
        self.failed += int(failed)
        self.empty += int(not pred.names)

    def summary(self) -> dict[str, float]:
        n = max(self.n, 1)
        return {
            "n": self.n, "node_f1": 100 * self.nodes.f1, "edge_f1": 100 * self.links.f1,
            "t_f1": 100 * self.arg_names.f1, "v_f1": 100 * self.arg_values.f1,
            "ned": 1 - self.ratio_sum / n if self.n else 0.0,
            "failed_pct": 100 * self.failed / n, "empty_pct": 100 * self.empty / n,
        }


class Scoreboard:
    """Scores overall and by record type (single / chain / dag)."""

    def __init__(self, tools: Sequence[dict]):
        self.out_types = output_types(tools)
        self.tool_ids = {t["id"]: i + 1 for i, t in enumerate(tools)}
        self.splits = {s: Scores(self.tool_ids) for s in SPLITS}

    def add(self, record: dict, pred_nodes: Sequence[dict] | None) -> tuple[Graph, Graph]:
        """Score one record; ``pred_nodes=None`` means the plan failed (empty prediction)."""
        gold = graph_of(record_nodes(record), self.out_types)
        pred = graph_of(pred_nodes or [], self.out_types)
        for split in ("overall", record.get("type", "")):
            if split in self.splits:
                self.splits[split].add(gold, pred, failed=pred_nodes is None)
        return gold, pred

    def table(self) -> str:
        head = f"{'split':8} {'n':>4} {'node-F1':>8} {'edge-F1':>8} {'t-F1':>7} {'v-F1':>7} {'NED':>6} {'failed%':>8} {'empty%':>7}"
        rows = [head]
        for split, scores in self.splits.items():
            s = scores.summary()
            rows.append(f"{split:8} {s['n']:>4} {s['node_f1']:8.2f} {s['edge_f1']:8.2f} {s['t_f1']:7.2f} "
                        f"{s['v_f1']:7.2f} {s['ned']:6.3f} {s['failed_pct']:8.2f} {s['empty_pct']:7.2f}")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {split: scores.summary() for split, scores in self.splits.items()}
def link_latest(names: Sequence[str], types: Mapping[str, TaskType], edge_ok=None) -> list[dict]:
    """Nodes for a task sequence, each slot linked to the latest earlier task whose
    output fits it (and ``edge_ok`` allows) — the planner's rule for a guided step.
    Scoring it on the gold task sequences (``eval_taskbench.py --gold-tasks``) bounds
    what better task choice alone would give; other argument values are left empty."""
    nodes = []
    for j, name in enumerate(names):
        ttype, args = types.get(name), []
        for modality in (ttype.args.values() if ttype else ()):
            source = next((i for i in range(j - 1, -1, -1) if names[i] in types
                           and types[names[i]].output == modality
                           and (edge_ok is None or edge_ok(types[names[i]], ttype))), None)
            args.append(f"<node-{source}>" if source is not None else "")
        nodes.append({"task": name, "arguments": args})
    return nodes
