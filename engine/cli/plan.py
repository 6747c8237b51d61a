"""``hgpt plan``: show the task graph a request would get, and how the planner got there.

Only stage 1 runs: no expert is loaded, no run folder is written. Useful to see
why a request is planned as it is (which clause asked for which task, what was on
offer, whether the controller was asked) before running it with ``hgpt ask``. The
pre-flight follows (``engine.preflight``, with the likely models): per task the model,
installed or not, its download size and memory, the plan's peak, and a verdict. With
``--online`` the likely models include those that can be pulled (or, in hybrid and
remote inference, the endpoint's), as ``hgpt ask --online`` would select them.
"""

from __future__ import annotations

import json

from .ask import _clip, add_request_arguments, checked_settings


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="show the task graph for a request, without running it")
    add_request_arguments(p, json_help="print the plan and the planner's trace as JSON")
    p.add_argument("--online", action="store_true", help="let the pre-flight consider what the network allows: "
                   "models that can be pulled, the inference endpoint (nothing is downloaded)")
    p.set_defaults(func=run)


def run(args, out=None) -> int:
    import sys

    from ..session import Engine

    out = out or sys.stdout
    settings = checked_settings(args)
    if getattr(args, "online", False):
        settings = settings.with_(offline=False)
    engine = Engine(settings)
    plan, seconds, trace = engine.plan_only(args.request, args.attach)
    preflight = engine.preflight(plan.tasks, clauses=trace.held) if plan.tasks else None
    if args.json:
        print(json.dumps({"tasks": plan.to_list(), "raw": plan.raw, "repairs": plan.repairs,
                          "seconds": round(seconds, 3), "trace": trace.to_dict(),
                          "preflight": preflight.to_dict() if preflight else None}, indent=2, ensure_ascii=False),
              file=out)
        return 0
    for line in describe(plan, seconds, trace):
        print(line, file=out)
    if preflight is not None:
        from ..preflight import lines

        for line in lines(**preflight.to_dict()):
            print(line, file=out)
    return 0


def describe(plan, seconds: float, trace) -> list[str]:
    """The plan, then the trace: clause → task, what was offered, demonstrations, calls."""
    lines = [f"plan ({seconds:.1f} s)" if plan.tasks else f"no tasks: answered directly ({seconds:.1f} s)"]
    for t in plan.tasks:
        args = ", ".join(f"{k}={_clip(v)}" for k, v in t.args.items())
        after = "" if t.dep == [-1] else f"  (after {', '.join(map(str, t.dep))})"
        lines.append(f"  [{t.id}] {t.task}: {args}{after}")
    if plan.repairs:
        lines.append("repaired: " + "; ".join(plan.repairs))
    steps = trace.steps
    if steps:
        lines.append("clauses that asked for a task:")
        lines += [f"  {_clip(s['clause'], 70)!r} → {' or '.join(s['tasks'])}" for s in steps]
    if trace.offered:
        lines.append("task types on offer: " + ", ".join(trace.offered))
    if trace.demos:
        lines.append("demonstrations: " + " | ".join(_clip(d, 50) for d in trace.demos))
    calls = trace.calls
    lines.append(f"controller asked {calls}×" if calls else "written by the rails alone (no controller call)")
    if trace.why:
        lines.append(f"whose plan: {trace.why}")
    return lines
