"""Helpers for the server tests: a running server on a free port, and small in-test parts.

``FakeController`` and the experts here stand in for the models only in tests of the
code around the engine (HTTP shapes, the gate, security); the tests with real models
(``test_serve_real.py``) use the real SmolLM2 and the real experts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import threading
import time
import wave

from engine import ApiServer, Engine, ServeConfig
from engine.controller.base import Controller
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.testing import scripted_planner


def wav_bytes(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def png_bytes(size=(8, 8), colour=(200, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class FakeController(Controller):
    """Plans from words in the request and streams a fixed answer:

    * "shout X" → translation of "hi there", then text-to-speech of its output;
    * "look" (with an image attached) → image-classification of the first attached file;
    * "uppercase" (with a text file attached) → translation (Upper) of that file;
    * "hold" → the answer waits (up to 60 s) until ``release`` is set or the run is cancelled;
    * "ponder" → the plan waits the same way (a long planning call), then no tasks;
    * anything else → no tasks, a direct answer."""

    name = "fake"
    accepts_grammar = True

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.holding = 0
        self._lock = threading.Lock()

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None):
        text = messages[-1]["content"]
        if "ponder" in text:
            self._hold(cancel)
        if "shout" in text:
            return json.dumps([{"task": "translation", "id": 0, "dep": [-1], "args": {"text": "hi there"}},
                               {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}}])
        if "uppercase" in text:  # the first text file attached
            name = next((w.strip(".,:") for w in text.split() if w.strip(".,:").endswith((".txt", ".md"))), "")
            return json.dumps([{"task": "translation", "id": 0, "dep": [-1], "args": {"text": name}}])
        if "look" in text:
            name = next((w.strip(".,:") for w in text.split() if w.strip(".,:").endswith(".png")), "upload-1.png")
            return json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": name}}])
        return "[]"

    def _hold(self, cancel) -> None:
        with self._lock:
            self.holding += 1
        try:
            deadline = time.monotonic() + 60
            while not self.release.is_set() and time.monotonic() < deadline:
                if cancel is not None:
                    cancel.check()
                time.sleep(0.02)
        finally:
            with self._lock:
                self.holding -= 1

    def stream(self, messages, *, max_tokens=512, cancel=None):
        if "hold" in json.dumps(messages):
            self._hold(cancel)
        for word in ("Hello", " from", " the", " fake", " controller."):
            if cancel is not None:
                cancel.check()
            yield word


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class Voice(Expert):
    """Writes a real (silent) WAV file, one sample per character."""

    model_id = "test/voice"
    tasks = ("text-to-speech",)

    def run(self, task, args, ctx):
        path = ctx.output_path("speech", ".wav")
        path.write_bytes(wav_bytes(0.01 * len(args["text"])))
        return ExpertResult(text=f"read aloud: {args['text']}", files=[path], data={"chars": len(args["text"])})


class Colour(Expert):
    """Says which colour channel of an image is strongest (a real, if tiny, reading of the file)."""

    model_id = "test/colour"
    tasks = ("image-classification",)

    def run(self, task, args, ctx):
        from PIL import Image

        with Image.open(args["image"]) as img:
            r, g, b = [sum(c) / max(1, len(c)) for c in zip(*img.convert("RGB").getdata())]
        ranked = sorted((("red", r), ("green", g), ("blue", b)), key=lambda x: -x[1])
        total = sum(v for _, v in ranked) or 1
        return ExpertResult(text=ranked[0][0], data={"labels": [{"label": n, "score": round(v / total, 4)}
                                                                 for n, v in ranked]})


def fake_engine(settings, *experts):
    controller = FakeController()
    registry = ExpertRegistry(experts or (Upper(), Voice(), Colour()))
    engine = Engine(settings, controller=controller, registry=registry, planner=scripted_planner(controller))
    return engine, controller


@contextlib.contextmanager
def served(engine, **config):
    server = ApiServer(engine, ServeConfig(port=0, **config))
    url = server.start()
    try:
        yield url
    finally:
        server.stop()
