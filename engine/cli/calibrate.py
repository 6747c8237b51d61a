"""``hgpt calibrate``: measure whether a controller plans better than the rails.

Every labelled request of the shipped set (or ``--checks FILE``) is planned with the
controller's own plan preferred, beside the rails' plan; the verdict is kept in the data
folder, and from then on the planner lets that controller write the plans when they were
measured better (``engine.plan.calibration``). Worth running once for a bigger GGUF you
bring; the controllers hgpt ships were measured and keep the rails (README, "Planning").
"""

from __future__ import annotations

import json
import sys

from .ask import add_controller_arguments, checked_settings

RAN = {"rails": "the rails' plan ran", "draft": "the controller's plan ran", "triage": "answered directly"}


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="measure whether a controller plans better than the rails "
                                         "(the planner then lets it write the plans)")
    add_controller_arguments(p)
    p.add_argument("--checks", metavar="FILE", help="labelled requests, one JSON object a line "
                   "(default: the set shipped with hgpt)")
    p.add_argument("--json", action="store_true", help="print each request's result and the verdict as JSON lines")
    p.set_defaults(func=run)


def run(args, out=None) -> int:
    from ..cancel import CancelToken
    from ..plan.calibration import Verdict
    from ..session import Engine

    out = out or sys.stdout
    engine = Engine(checked_settings(args))
    for event in engine.calibrate(args.checks, CancelToken()):
        if args.json:
            print(json.dumps(event.to_dict(), ensure_ascii=False), file=out, flush=True)
        elif isinstance(event, Verdict):
            print(event.summary(), file=out)
            print(f"kept in {engine.settings.planning_file}", file=out)
        else:
            marks = (f"rails {'right' if event.rails_right else 'wrong'}, "
                     f"controller's {'right' if event.preferred_right else 'wrong'}")
            print(f"[{event.index}/{event.total}] {event.case_id}: {marks} ({RAN.get(event.writer, event.writer)})",
                  file=out, flush=True)
    return 0
