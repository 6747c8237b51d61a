#!/usr/bin/env python
"""Replay the choice between the rails' plan and the controller's draft, offline.

An evaluation run keeps both candidates of every request it planned in its trace
(``candidates``: ``rails`` and, where one was written, ``draft``). This script takes
such runs and decides again, without the controller, under two rules, then scores
what each rule would have run:

* ``usable`` (``engine.plan.evidence.choose``, the rule hgpt uses): the rails' plan
  whenever it is usable, the draft only where it is not;
* ``coverage`` (the rule before it, kept here only to be compared): a draft was
  written where the rails' plan missed a task the clauses clearly ask for, and chosen
  when it covered more of those tasks than the rails' plan and added only implied steps.

Only records where a draft was written, and that the old rule would have written,
are compared. A run made with ``--draft always`` writes a draft for every request.

    .venv/bin/python scripts/eval_taskbench.py --threads 2 --model qwen2.5-coder-1.5b-instruct --out tb.jsonl
    .venv/bin/python scripts/replay_evidence.py --taskbench tb.jsonl
    .venv/bin/python scripts/eval_requests.py --requests R.jsonl --plans-only --threads 2 \\
        --controller qwen2.5-coder-1.5b-instruct --json r.json
    .venv/bin/python scripts/replay_evidence.py --requests r.json R.jsonl

TaskBench runs are scored by node and edge F1 over the compared records; request sets
by how many plans pass. Use runs on read data only: the rule is chosen from these.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from engine.plan import evidence  # noqa: E402
from engine.plan.graph import parse  # noqa: E402

ASKS = types.SimpleNamespace(direct=False, asked=())


def coverage_rule(plans, ranking, triage, sources, files, task_types) -> str:
    """The rule before ``usable``: the draft when it covers more of the clearly asked tasks
    than the rails' plan and every task it adds is clearly asked or feeds one that is."""
    rails, drafted = plans["rails"], evidence.pruned(plans["draft"], plans["rails"], ranking, triage)
    if (evidence.unusable(drafted, triage) or evidence.invented(drafted, sources)
            or evidence.misfed(drafted, files, task_types)):
        return "rails"
    clear = evidence.asked_clearly(ranking)
    drafted_tasks, rails_tasks = {t.task for t in drafted.tasks}, {t.task for t in rails.tasks}
    if len(clear & drafted_tasks) < len(clear & rails_tasks):
        return "rails"
    if evidence.unasked_ids(drafted, rails_tasks, clear):
        return "rails"
    if len(clear & drafted_tasks) == len(clear & rails_tasks) and not evidence.unusable(rails, triage):
        return "rails"
    return "draft"


def coverage_needed(rails, ranking, triage) -> bool:
    """Did the old rule write a draft: the rails' plan unusable or missing a clearly asked task?"""
    missing = evidence.asked_clearly(ranking) - {t.task for t in rails.tasks}
    return bool(evidence.unusable(rails, triage) or missing)


def usable_rule(plans, ranking, triage, sources, files, task_types) -> str:
    drafted = evidence.pruned(plans["draft"], plans["rails"], ranking, triage)
    return evidence.choose({"rails": plans["rails"], "draft": drafted}, ranking, triage, "auto",
                           sources, files, task_types)[0]


RULES = {"usable": usable_rule, "coverage": coverage_rule}


def taskbench_rows(path: str, data: str):
    import eval_taskbench
    from engine.taskbench import graph_of, load_graph, load_records, load_tools, output_types, plan_to_nodes, \
        record_nodes, task_types_from_tools

    tools = load_tools(eval_taskbench.SHARED / "tool_desc.json")
    task_types = task_types_from_tools(tools)
    planner, _ = eval_taskbench.build_planner(eval_taskbench.parse_args(["--no-controller"]), task_types,
                                              load_graph(eval_taskbench.SHARED / "graph_desc.json"))
    ranker, by_name, out = planner.part("ranker"), {t.name: t for t in task_types}, output_types(tools)
    records = {str(r["id"]): r for r in load_records(data)}
    for line in open(path, encoding="utf-8"):
        row = json.loads(line)
        candidates = row.get("candidates") or {}
        if {"rails", "draft"} - set(candidates):
            continue
        record = records[str(row["id"])]
        request = record["instruction"]
        files = planner._current_files(request, {})
        plans = {k: parse(json.dumps(v), by_name, files) for k, v in candidates.items()}
        gold = graph_of(record_nodes(record), out)

        def score(plan, gold=gold):
            pred = graph_of(plan_to_nodes(plan), out)
            return [(len(set(gold.names) & set(pred.names)), len(set(pred.names)), len(set(gold.names))),
                    (len(set(gold.links) & set(pred.links)), len(set(pred.links)), len(set(gold.links)))]
        yield plans, ranker.rank(request, files), ASKS, [request, *files], files, by_name, score


def request_rows(path: str, cases_path: str):
    import tempfile

    from engine import Engine, load_settings
    from engine.controller.base import FirstChoice
    from engine.plan.options import PlanningOptions
    from eval_requests import load_cases, score_plan

    engine = Engine(load_settings(Path(tempfile.mkdtemp())), controller=FirstChoice(),
                    planning=PlanningOptions(draft="never"))
    ranker, by_name = engine.planner.part("ranker"), engine.planner.types_by_name
    cases = {c["id"]: c for c in load_cases(Path(cases_path))}
    for row in json.load(open(path, encoding="utf-8"))["plans"]:
        trace = row.get("trace") or {}
        candidates = trace.get("candidates") or {}
        if {"rails", "draft"} - set(candidates):
            continue
        case, files = cases[row["id"]], trace.get("files") or {}
        plans = {k: parse(json.dumps(v), by_name, files) for k, v in candidates.items()}
        triage = types.SimpleNamespace(direct=bool((trace.get("triage") or {}).get("direct")), asked=())
        sources = [case["request"], *files, *(str(t.get("content", "")) for t in case.get("history") or [])]

        def score(plan, case=case):
            return [(int(score_plan(case, plan.to_list())["passed"]), 1, 1), (0, 0, 0)]
        yield plans, ranker.rank(row.get("asked") or case["request"], files), triage, sources, files, by_name, score


def f1(counts) -> float:
    hit, predicted, gold = counts
    return 200 * hit / (predicted + gold) if predicted + gold else 0.0


def replay(rows) -> dict[str, dict]:
    results = {name: {"nodes": [0, 0, 0], "links": [0, 0, 0], "drafts": collections.Counter()} for name in RULES}
    compared = 0
    for plans, ranking, triage, sources, files, by_name, score in rows:
        if not coverage_needed(plans["rails"], ranking, triage):
            continue  # the old rule wrote no draft here either
        compared += 1
        scores = {k: score(p) for k, p in plans.items()}
        for name, rule in RULES.items():
            chosen = rule(plans, ranking, triage, sources, files, by_name)
            got = results[name]
            for i in range(3):
                got["nodes"][i] += scores[chosen][0][i]
                got["links"][i] += scores[chosen][1][i]
            if chosen == "draft":
                rails, draft = scores["rails"], scores["draft"]
                better = (draft[0][0] * 2 - draft[0][1], draft[1][0]) > (rails[0][0] * 2 - rails[0][1], rails[1][0])
                worse = (draft[0][0] * 2 - draft[0][1], draft[1][0]) < (rails[0][0] * 2 - rails[0][1], rails[1][0])
                got["drafts"]["better" if better else "worse" if worse else "same"] += 1
    for got in results.values():
        got["compared"] = compared
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--taskbench", nargs="*", default=[], help="eval_taskbench.py --out files")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "taskbench" / "hf_dev.jsonl"),
                   help="the TaskBench records those runs planned")
    p.add_argument("--requests", nargs=2, action="append", default=[], metavar=("RUN_JSON", "CASES_JSONL"),
                   help="an eval_requests.py --json file and the cases it ran")
    args = p.parse_args(argv)

    def rows():
        for path in args.taskbench:
            yield from taskbench_rows(path, args.data)
        for run, cases in args.requests:
            yield from request_rows(run, cases)

    results = replay(rows())
    kind = "node / edge F1" if args.taskbench and not args.requests else "share passed / edge F1"
    for name, got in results.items():
        drafts = got["drafts"]
        print(f"{name:9} over {got['compared']} records: {kind} {f1(got['nodes']):.1f} / {f1(got['links']):.1f}; "
              f"drafts chosen {sum(drafts.values())} (better than the rails' plan {drafts['better']}, "
              f"worse {drafts['worse']}, same {drafts['same']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
