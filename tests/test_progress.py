"""Progress inside a task: an expert's ``ctx.progress`` reports become ``TaskProgress``
events in the run's stream, between its TaskStarted and TaskFinished; the CLI shows
them as a bar on a terminal and as plain lines when piped. Real engine, real thread
pool; the controller is scripted (the planner is not what is tested here)."""

from __future__ import annotations

import io
import json
import time

from engine import events as ev
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.session import Engine
from engine.testing import ScriptedController, collect, scripted_planner


class Stepper(Expert):
    """Ten steps of real waiting, each reported."""

    model_id = "test/stepper"
    tasks = ("text-generation",)

    def run(self, task, args, ctx):
        for step in range(1, 11):
            time.sleep(0.03)
            ctx.progress(step, 10, "steps")
        return ExpertResult(text="ten steps")


class Burst(Expert):
    """Reports a thousand times at once: the stream keeps the latest, not all of them."""

    model_id = "test/burst"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        for i in range(1, 1001):
            ctx.progress(i * 1000, 1_000_000, "bytes")
        time.sleep(0.15)
        return ExpertResult(text="burst")


def _engine(settings, plan):
    controller = ScriptedController([json.dumps(plan), "done."])
    registry = ExpertRegistry([Stepper(), Burst()])
    return Engine(settings, controller=controller, registry=registry, planner=scripted_planner(controller))


def _task(i, name):
    return {"task": name, "id": i, "dep": [-1], "args": {"text": "go"}}


def test_expert_progress_reaches_the_stream_in_order(settings):
    events = collect(_engine(settings, [_task(0, "text-generation")]).run("write ten steps"))
    kinds = [e.kind for e in events]
    progress = [e for e in events if isinstance(e, ev.TaskProgress)]
    assert progress, kinds
    assert kinds.index("TaskStarted") < kinds.index("TaskProgress") < kinds.index("TaskFinished")
    assert all(p.task_id == 0 and p.unit == "steps" and p.total == 10 for p in progress)
    dones = [p.done for p in progress]
    assert dones == sorted(dones) and dones[-1] <= 10
    assert all(p.seconds >= 0 for p in progress)
    assert progress[-1].fraction == dones[-1] / 10
    # the event is JSON-safe like every other
    assert json.loads(json.dumps(progress[0].to_dict()))["kind"] == "TaskProgress"
    # progress is not part of the run record
    record = next(e for e in events if isinstance(e, ev.AnswerDone)).record
    assert all("progress" not in task for task in record["tasks"].values())


def test_a_burst_of_reports_is_coalesced_to_the_latest(settings):
    events = collect(_engine(settings, [_task(0, "translation")]).run("translate go"))
    progress = [e for e in events if isinstance(e, ev.TaskProgress)]
    assert 1 <= len(progress) <= 3
    assert progress[-1].done == 1_000_000 and progress[-1].fraction == 1.0


def test_progress_words():
    assert ev.progress_words(12, 25, "steps") == "12/25 steps"
    assert ev.progress_words(3.5, 10.25, "s") == "3.5 of 10.2 s"
    assert ev.progress_words(1.5 * 2**20, 3 * 2**20, "bytes") == "1.5 of 3.0 MB"
    assert ev.progress_words(7, 0, "segments") == "7 segments"


def _printer_output(isatty: bool, events) -> str:
    from engine.cli.ask import TextPrinter

    class Out(io.StringIO):
        def isatty(self):
            return isatty

    out = Out()
    printer = TextPrinter(out)
    for e in events:
        printer.show(e)
    return out.getvalue()


def _progress_run():
    run = "r1"
    return [ev.TaskStarted(run, 0, "text-to-image", "m", {}),
            ev.TaskProgress(run, 0, "text-to-image", 5, 25, "steps", 1.0),
            ev.TaskProgress(run, 0, "text-to-image", 25, 25, "steps", 4.2),
            ev.TaskFinished(run, 0, "text-to-image", "m", "an image", [], {}, 4.3)]


def test_cli_prints_plain_progress_lines_when_piped():
    text = _printer_output(False, _progress_run())
    lines = text.splitlines()
    assert "  [0] text-to-image: 5/25 steps (20 %), 1.0 s" in lines
    assert "  [0] text-to-image: 25/25 steps (100 %), 4.2 s" in lines
    assert "\r" not in text and "\x1b" not in text


def test_cli_gives_a_task_a_new_bar_after_its_model_downloaded():
    run = "r1"
    events = [ev.TaskProgress(run, 0, "image-classification", 2**20, 2 * 2**20, "bytes", 1.0),
              ev.TaskStarted(run, 0, "image-classification", "vit", {}),
              ev.TaskProgress(run, 0, "image-classification", 1, 4, "steps", 0.2)]
    from engine.cli.ask import TextPrinter

    class Out(io.StringIO):
        def isatty(self):
            return True

    printer = TextPrinter(Out())
    printer.show(events[0])
    download = printer.bars[0]
    printer.show(events[1])
    assert 0 not in printer.bars  # the download's bar is closed
    printer.show(events[2])
    assert printer.bars[0] is not download and printer.bars[0].total == 4


def test_cli_draws_a_progress_bar_on_a_terminal():
    text = _printer_output(True, _progress_run())
    assert "\r" in text or "\x1b" in text  # the bar redraws in place
    assert "5/25" in text and "done in 4.3 s" in text
