"""``hgpt ask``: run a request through the four stages and print them as they happen.

A task that reports progress (``TaskProgress``: diffusion steps, seconds of audio
transcribed, bytes) gets a progress bar (tqdm) while it runs when the output is a
terminal, and one plain line per report when it is piped or redirected."""

from __future__ import annotations

import json
import sys

from .. import events as ev
from ..cancel import CancelToken
from ..text import clip


def add_parser(sub) -> None:
    p = sub.add_parser("ask", help="plan, select, execute and answer a request")
    add_request_arguments(p, json_help="print the whole run record as JSON")
    chat = p.add_mutually_exclusive_group()
    chat.add_argument("--continue", dest="resume", action="store_true",
                      help="continue the last conversation (its files and answers are the context)")
    chat.add_argument("--chat", type=int, metavar="ID", help="continue conversation ID")
    p.add_argument("--pull", action="store_true", help="download the models the plan needs that are not "
                   "installed, then run (without it, the run stops before execution and says what to run)")
    p.add_argument("--online", action="store_true", help="allow the network for this command (downloads, "
                   "fetchable candidates, the inference endpoint)")
    p.set_defaults(func=run)


def add_request_arguments(p, json_help: str) -> None:
    """The request, its attachments and the controller options (``ask`` and ``plan``)."""
    p.add_argument("request", help="what you want done, in plain words")
    p.add_argument("--attach", "-a", action="append", default=[], metavar="FILE",
                   help="an image, audio or text file (repeatable)")
    p.add_argument("--json", action="store_true", help=json_help)
    add_controller_arguments(p)


def add_controller_arguments(p) -> None:
    """Which controller, and how it runs (``ask``, ``plan`` and ``calibrate``)."""
    p.add_argument("--controller", metavar="NAME|GGUF|URL", help="the controller: a models.lock name "
                   "(hgpt models list), a chat GGUF, or the http:// address of an OpenAI-compatible server "
                   "(default: the best installed one for this computer's memory)")
    p.add_argument("--chat-format", help="override the chat format read from the GGUF")
    p.add_argument("--threads", type=int, help="llama.cpp threads")


def checked_settings(args):
    """Settings with the controller options applied; a local controller file is checked
    before anything starts."""
    from ..controller import check_controller
    from ..settings import load_settings

    s = load_settings()
    changes = {k: v for k, v in (("controller", args.controller), ("chat_format", args.chat_format),
                                 ("n_threads", args.threads)) if v}
    s = s.with_(**changes) if changes else s
    check_controller(s)
    return s


def run(args) -> int:
    from ..session import Engine

    settings = checked_settings(args)
    if getattr(args, "online", False):
        settings = settings.with_(offline=False)
    engine = Engine(settings)
    cancel = CancelToken()
    conversation = _conversation(engine, args)
    stream = engine.run(args.request, args.attach, cancel=cancel, conversation=conversation,
                        missing="fetch" if args.pull else "stop")
    return follow(stream, JsonPrinter() if args.json else TextPrinter(), cancel)


def follow(stream, printer, cancel) -> int:
    """Print a run's events as they come; Ctrl-C cancels the run (exit 130)."""
    try:
        for event in stream:
            printer.show(event)
    except KeyboardInterrupt:
        cancel.cancel()
        stream.close()
        print("\nhgpt: cancelled", file=sys.stderr)
        return 130
    return printer.exit_code


def _conversation(engine, args) -> int | None:
    """The conversation this request continues: ``--chat ID``, ``--continue`` (the last
    one), or None for a new one."""
    if args.chat is not None:
        engine.history.conversation(args.chat)  # a clear error when there is no such chat
        return args.chat
    if args.resume:
        chats = engine.history.conversations(limit=1)
        if not chats:
            from ..errors import UserInputError

            raise UserInputError("there is no earlier conversation to continue; ask without --continue")
        return chats[0].id
    return None


class JsonPrinter:
    exit_code = 1

    def show(self, event: ev.Event) -> None:
        if isinstance(event, ev.AnswerDone):
            print(json.dumps(event.record, indent=2, ensure_ascii=False))
            self.exit_code = 0
        elif isinstance(event, ev.RunNotice):
            print(f"hgpt: {event.message}", file=sys.stderr)
        elif isinstance(event, (ev.RunFailed, ev.RunCancelled)):
            print(json.dumps(event.to_dict(), indent=2), file=sys.stderr)
            self.exit_code = 130 if isinstance(event, ev.RunCancelled) else 1


class TextPrinter:
    exit_code = 1

    def __init__(self, out=None):
        self.out = out or sys.stdout  # looked up now: sys.stdout may have been replaced since import
        self.bars: dict[int, object] = {}  # task id -> its tqdm bar, on a terminal
        self._last: dict[int, float] = {}  # task id -> last progress printed, when piped

    @property
    def terminal(self) -> bool:
        isatty = getattr(self.out, "isatty", None)
        return bool(isatty and isatty())

    def say(self, text: str = "", end: str = "\n") -> None:
        print(text, end=end, file=self.out, flush=True)

    def show(self, event: ev.Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler:
            handler(event)

    def on_RunStarted(self, e):
        self.say(f"run {e.run_id}  ({e.run_dir})")

    def on_StageStarted(self, e):
        self.say(f"\n▸ {ev.stage_words(e.stage).title}")

    def on_RunNotice(self, e):
        print(f"hgpt: {e.message}", file=sys.stderr)

    def on_PlanReady(self, e):
        if not e.tasks:
            self.say(f"  no tasks needed: answering directly ({e.seconds:.1f} s)")
        for t in e.tasks:
            args = ", ".join(f"{k}={_clip(v)}" for k, v in t["args"].items())
            after = "" if t["dep"] == [-1] else f"  (after {', '.join(map(str, t['dep']))})"
            self.say(f"  [{t['id']}] {t['task']}: {args}{after}")
        if e.tasks:
            self.say(f"  planned in {e.seconds:.1f} s" + (f"; repaired: {'; '.join(e.repairs)}" if e.repairs else ""))
        if e.writer == "draft":  # the controller's own plan, not the rails': say why
            self.say(f"  {e.why}")

    def on_PreflightReady(self, e):
        from ..preflight import lines

        for line in lines(e.tasks, e.summary):
            self.say(line)

    def on_ModelSelected(self, e):
        self.say(f"  [{e.task_id}] {e.task} → {e.model_id}: {e.reason}")

    def on_TaskStarted(self, e):
        self._close_bar(e.task_id)  # a download for the task may have had a bar; the task gets its own
        self.say(f"  [{e.task_id}] {e.task} started with {e.model_id}")

    def on_TaskProgress(self, e):
        if self.terminal:
            self._bar(e)
        elif self._last.get(e.task_id) != e.done:
            self._last[e.task_id] = e.done
            share = f" ({e.fraction:.0%})".replace("%", " %") if e.fraction is not None else ""
            self.say(f"  [{e.task_id}] {e.task}: {ev.progress_words(e.done, e.total, e.unit)}{share}, "
                     f"{e.seconds:.1f} s")

    def _bar(self, e):
        bar = self.bars.get(e.task_id)
        if bar is None:
            from tqdm import tqdm

            scaled = e.unit == "bytes"
            bar = self.bars[e.task_id] = tqdm(
                total=e.total or None, desc=f"  [{e.task_id}] {e.task}", unit="B" if scaled else f" {e.unit}",
                unit_scale=scaled, unit_divisor=1024 if scaled else 1000, file=self.out, leave=False,
                dynamic_ncols=True, position=len(self.bars), mininterval=0)
        if e.total and bar.total != e.total:
            bar.total = e.total
        bar.n = e.done
        bar.refresh()

    def _close_bar(self, task_id: int) -> None:
        bar = self.bars.pop(task_id, None)
        if bar is not None:
            bar.close()
        self._last.pop(task_id, None)

    def on_TaskFinished(self, e):
        self._close_bar(e.task_id)
        outcome = _clip(e.text, 100) if e.text else ""
        files = ", ".join(e.files)
        how = ("kept from run " + e.provenance["reused_from"] if e.provenance.get("reused_from")
               else "from the results cache" if e.cached else f"done in {e.seconds:.1f} s")
        self.say(f"  [{e.task_id}] {how}: {outcome}{' → ' + files if files else ''}")

    def on_TaskFailed(self, e):
        self._close_bar(e.task_id)
        self.say(f"  [{e.task_id}] {e.task} failed: {e.error}")

    def on_TaskSkipped(self, e):
        self.say(f"  [{e.task_id}] {e.task} skipped: {e.reason}")

    def on_Token(self, e):
        self.say(e.text, end="")

    def on_AnswerDone(self, e):
        from ..answer import compose

        details = compose("", e.answer["workflow"], e.answer["notes"])
        self.say("\n\n" + details if details else "")
        self.exit_code = 0

    def on_RunFailed(self, e):
        for task_id in list(self.bars):
            self._close_bar(task_id)
        self.say(f"\nhgpt: the run failed while {ev.stage_words(e.stage).doing}: {e.error}")
        self.exit_code = 1

    def on_RunCancelled(self, e):
        for task_id in list(self.bars):
            self._close_bar(task_id)
        self.say("\nhgpt: cancelled")
        self.exit_code = 130


def _clip(value, limit: int = 60) -> str:
    return clip(value, limit, one_line=True)
