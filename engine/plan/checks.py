"""Is a plan right? The one scoring of a plan against what a labelled request needs.

A labelled request (the form of ``../shared/requests/dev.jsonl``, the everyday sets in
``scripts/data`` and the calibration set ``demos/checks.jsonl``) says what its plan must
hold. A plan passes when
  - every ``must`` entry is planned (``a|b``: either task type will do),
  - every link ``[source, target]`` is there: some ``target`` task depends on some
    ``source`` task, through its ``dep`` list or a ``<resource>-N`` argument,
  - nothing outside ``allow`` is planned (when ``allow`` is set), and
  - the plan is not empty, unless ``empty_ok`` is true.
``scripts/eval_requests.py`` reports these per case; ``calibration`` compares two writers'
plans by them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .graph import RESOURCE_RE


def plan_links(plan: Sequence[Mapping]) -> set[tuple[str, str]]:
    """(source type, target type) for each direct dependency: a dep or a <resource>-N argument."""
    types = {t["id"]: t["task"] for t in plan}
    links = set()
    for t in plan:
        sources = set(t.get("dep") or [])
        for value in (t.get("args") or {}).values():
            sources.update(int(n) for n in RESOURCE_RE.findall(str(value)))
        links.update((types[s], t["task"]) for s in sources if s in types and s != t["id"])
    return links


def score_plan(case: Mapping, plan: Sequence[Mapping]) -> dict:
    """``passed`` and why not (``reasons``), with the counts the evaluations total."""
    planned = {t["task"] for t in plan}
    links = plan_links(plan)
    must_missing = [m for m in case.get("must") or [] if not planned & set(m.split("|"))]
    links_missing = [list(k) for k in case.get("links") or []
                     if not any((s, t) in links for s in k[0].split("|") for t in k[1].split("|"))]
    allow = case.get("allow")
    outside = sorted(planned - set(allow)) if allow is not None else []
    empty_bad = not plan and not case.get("empty_ok")
    reasons = ([f"missing {m}" for m in must_missing]
               + [f"no link {s}->{t}" for s, t in links_missing]
               + [f"not allowed {t}" for t in outside]
               + (["empty plan"] if empty_bad else []))
    return {
        "passed": not reasons, "reasons": reasons,
        "must": len(case.get("must") or []), "must_hit": len(case.get("must") or []) - len(must_missing),
        "links": len(case.get("links") or []), "links_hit": len(case.get("links") or []) - len(links_missing),
        "direct": is_direct(case), "empty": not plan,
    }


def is_direct(case: Mapping) -> bool:
    """A request that needs no expert: nothing it must plan, and an empty plan is right."""
    return not case.get("must") and bool(case.get("empty_ok"))
