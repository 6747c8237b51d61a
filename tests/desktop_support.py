"""What the desktop tests share: small in-test experts doing real (if trivial) work, the
showcase plan for a scripted controller, and sending a request through the window as a
user does. The ``make_window`` fixture that uses them is in ``conftest.py``."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.session import Engine
from engine.testing import ScriptedController, scripted_planner

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"


class MeanColour(Expert):
    """Classifies an image by its mean colour and writes a thumbnail: real, if trivial, work."""

    model_id = "test/mean-colour"
    tasks = ("image-classification",)

    def run(self, task, args, ctx):
        from PIL import Image

        with Image.open(args["image"]) as img:
            rgb = img.convert("RGB")
            r, g, b = [sum(c) / len(c) for c in zip(*rgb.getdata())]
            out = ctx.output_path("thumb", ".png")
            rgb.resize((64, 48)).save(out)
        label = max((("reddish", r), ("greenish", g), ("bluish", b)), key=lambda x: x[1])[0]
        return ExpertResult(text=f"a {label} picture", files=[out])


class Tone(Expert):
    """Text to a real WAV file: a tone whose length follows the text."""

    model_id = "test/tone"
    tasks = ("text-to-speech",)

    def run(self, task, args, ctx):
        from engine.experts.media import write_wav
        import numpy as np

        rate = 8000
        t = np.arange(int(rate * min(2.0, 0.05 * len(args["text"])))) / rate
        out = write_wav(ctx.output_path("speech", ".wav"), 0.3 * np.sin(2 * np.pi * 440 * t), rate)
        return ExpertResult(text=f"spoke {len(args['text'])} characters", files=[out])


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation", "summarization")

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class Sleeper(Expert):
    """Sleeps one second (in slices, so Stop is noticed), then echoes."""

    model_id = "test/sleeper"
    tasks = ("text-generation",)
    started = threading.Event()

    def run(self, task, args, ctx):
        Sleeper.started.set()
        for _ in range(20):
            if ctx.cancel.cancelled:
                break
            time.sleep(0.05)
        return ExpertResult(text="slept on " + args["text"])


def task(i, name, args):
    return {"task": name, "id": i, "dep": [-1], "args": args}


SHOWCASE_PLAN = json.dumps([task(0, "image-classification", {"image": "chelsea.png"}),
                            task(1, "text-to-speech", {"text": "<resource>-0"})])


def send(qtbot, window, text, files=(), timeout=90_000):
    window.chat.composer.input.setPlainText(text)
    window.chat.composer.add_attachments(files)
    with qtbot.waitSignal(window.run_finished, timeout=timeout):
        QTest.keyClick(window.chat.composer.input, Qt.Key_Return, Qt.ControlModifier)


def open_window(qtbot, settings, replies=(), experts=(), **changes):
    """A main window (not yet shown) over ``settings`` with a scripted controller giving
    ``replies`` and an engine over ``experts``; its controller is ``window.controller``."""
    from desktop.qt_main import MainWindow

    s = settings.with_(**changes) if changes else settings
    registry = ExpertRegistry(list(experts))
    controller = ScriptedController(list(replies))
    window = MainWindow(s, engine_factory=lambda: Engine(s, controller=controller, registry=registry,
                                                         planner=scripted_planner(controller)))
    window.controller = controller
    qtbot.addWidget(window)
    return window


def stop_windows(windows) -> None:
    """Stop the runs the test's windows left going."""
    for w in windows:
        if w.worker is not None:
            w.worker.stop()
            w.worker.wait()
