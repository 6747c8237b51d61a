"""``hgpt runs list | show ID | replay ID | rerun ID --from TASK``: recorded runs, repeated.

``list`` reads the history (newest last); ``show`` prints one run's record with its
provenance (``--json``: run.json as it is); ``replay`` runs the recorded plan with the
recorded models and prints, per task, whether the outputs are byte-identical, equal
within tolerance, or differ and why (exit 1 when one differs); ``rerun`` re-runs one
task and the tasks after it, with ``--set TASK.ARG=VALUE`` and ``--model TASK=MODEL``
changes, as a new run in the same conversation. A run that is missing, deleted or
edited, a task that is not in the plan, a value of the wrong kind: one line, exit 2.
"""

from __future__ import annotations

import json
import time

from ..cancel import CancelToken
from ..text import clip
from .ask import JsonPrinter, TextPrinter, follow


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="recorded runs: list, show, replay, re-run from a task")
    actions = p.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    ls = actions.add_parser("list", help="the runs in the history, oldest first")
    ls.add_argument("--chat", type=int, metavar="ID", help="only the runs of conversation ID")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    sh = actions.add_parser("show", help="one run's record: plan, models with revisions, outputs, provenance")
    sh.add_argument("run_id", metavar="ID")
    sh.add_argument("--json", action="store_true", help="print run.json as it is")
    sh.set_defaults(func=run_show)
    rp = actions.add_parser("replay", help="run the recorded plan with the recorded models and compare outputs")
    rp.add_argument("run_id", metavar="ID")
    rp.add_argument("--json", action="store_true", help="print the replay's record (its 'replay' field: verdicts)")
    rp.set_defaults(func=run_replay)
    rr = actions.add_parser("rerun", help="re-run one task and the tasks that depend on it")
    rr.add_argument("run_id", metavar="ID")
    rr.add_argument("--from", dest="from_task", type=int, required=True, metavar="TASK",
                    help="the task to run again (its dependents run too; earlier tasks keep their results)")
    rr.add_argument("--set", dest="sets", action="append", default=[], metavar="TASK.ARG=VALUE",
                    help="change an argument (repeatable); a file slot takes an attachment name, a path or <resource>-N")
    rr.add_argument("--model", dest="models", action="append", default=[], metavar="TASK=MODEL",
                    help="run a task with another installed model (repeatable)")
    rr.add_argument("--json", action="store_true", help="print the new run's record as JSON")
    rr.set_defaults(func=run_rerun)


def _engine():
    from ..session import Engine
    from ..settings import load_settings

    return Engine(load_settings())


def run_list(args) -> int:
    engine = _engine()
    runs = engine.history.runs(conversation_id=args.chat)
    if args.json:
        print(json.dumps([{"id": r.id, "conversation_id": r.conversation_id, "status": r.status,
                           "request": r.request, "tasks": len(r.plan), "started_at": r.started_at,
                           "run_dir": r.run_dir} for r in runs], indent=2, ensure_ascii=False))
        return 0
    if not runs:
        print("no runs yet; 'hgpt ask \"…\"' makes one")
        return 0
    rows = [("RUN", "STATUS", "CHAT", "TASKS", "STARTED", "REQUEST")]
    rows += [(r.id, r.status, str(r.conversation_id or "-"), str(len(r.plan)),
              time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started_at)), clip(r.request, 50, one_line=True))
             for r in runs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def run_show(args) -> int:
    recorded = _engine().recorded_run(args.run_id)
    record = recorded.record
    if args.json:
        print(json.dumps(record, indent=2, ensure_ascii=False))
        return 0
    say = print
    say(f"run {record['run_id']}  {record.get('status', '')}  ({recorded.run_dir})")
    say(f"request: {record.get('request', '')}")
    origin = record.get("origin") or {}
    if origin:
        extra = f" from task {origin['from_task']}" if "from_task" in origin else ""
        say(f"{origin.get('kind', '')} of run {origin.get('run_id', '')}{extra}")
    provenance = record.get("provenance", {})
    controller = provenance.get("controller", {})
    if controller:
        digest = controller.get("gguf_sha256", "")
        say(f"controller: {controller.get('name', '')}" + (f"  sha256 {digest[:16]}…" if digest else "")
            + (f"  chat format {controller['chat_format']}" if controller.get("chat_format") else "")
            + (f"  sampling {json.dumps(controller['sampling'])}" if controller.get("sampling") else ""))
    if provenance.get("hgpt"):
        say(f"hgpt {provenance['hgpt']}, Python {provenance.get('python', '')}, {provenance.get('platform', '')}")
    for task in record.get("plan", []):
        info = record.get("tasks", {}).get(str(task["id"]), {})
        p = info.get("provenance", {})
        args_ = ", ".join(f"{k}={clip(str(v), 40, one_line=True)}" for k, v in task.get("args", {}).items())
        say(f"\n[{task['id']}] {task['task']}({args_})  {info.get('status', 'not run')}"
            + ("  cached" if info.get("cached") else "")
            + (f"  {info['seconds']:.2f} s" if isinstance(info.get("seconds"), (int, float)) else ""))
        model = info.get("model_id") or record.get("selections", {}).get(str(task["id"]), {}).get("model_id", "")
        if model:
            revision = p.get("revision") or "?"
            runtime = p.get("runtime", {})
            libs = ", ".join(f"{k} {v}" for k, v in runtime.get("libraries", {}).items())
            say(f"    model {model}  revision {revision}" + (f"  ({p['lock']} in the lock)" if p.get("lock") else ""))
            if runtime:
                say(f"    runtime {runtime.get('name', '')} on {runtime.get('device', '?')}" + (f": {libs}" if libs else "")
                    + (f"  seed {p['seed']}" if p.get("seed") is not None else ""))
            for f in p.get("files", [])[:3]:
                say(f"    weights {f['path']}  sha256 {str(f.get('sha256', ''))[:16]}…")
            if len(p.get("files", [])) > 3:
                say(f"    … and {len(p['files']) - 3} more files")
        if info.get("text"):
            say(f"    → {clip(info['text'], 100, one_line=True)}")
        for f in p.get("outputs", {}).get("files", []):
            say(f"    → {f['file']}  sha256 {f['sha256'][:16]}…  {f['size']:,} bytes")
        if info.get("error"):
            say(f"    ! {info['error']}")
    return 0


class RunPrinter(TextPrinter):
    """``hgpt ask``'s printer, plus a replay's verdicts."""

    def __init__(self, out=None):
        super().__init__(out)
        self.differs = False

    def on_ReplayCompared(self, e):
        for task in e.tasks:
            self.say(f"  [{task['id']}] {task['task']}: {task['verdict']} — {task['why']}")
            self.differs = self.differs or task["verdict"] == "differs"

    def on_Token(self, e):
        self.streamed = True
        self.say(e.text, end="")

    def on_AnswerDone(self, e):
        if not getattr(self, "streamed", False) and e.answer["direct"]:  # a replay writes no tokens
            self.say("\n" + e.answer["direct"])
        super().on_AnswerDone(e)


def run_replay(args) -> int:
    cancel = CancelToken()
    stream = _engine().replay(args.run_id, cancel=cancel)
    printer = JsonPrinter() if args.json else RunPrinter()
    code = follow(stream, printer, cancel)
    if isinstance(printer, RunPrinter) and printer.differs and code == 0:
        return 1
    return code


def run_rerun(args) -> int:
    from ..rerun import Changes

    changes = Changes.parse(args.sets, args.models)
    cancel = CancelToken()
    stream = _engine().rerun(args.run_id, args.from_task, changes, cancel=cancel)
    printer = JsonPrinter() if args.json else RunPrinter()
    return follow(stream, printer, cancel)
