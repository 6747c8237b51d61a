"""The README's showcase through the engine with the real experts: a scripted
controller supplies the plan and the answer (the planner is tested elsewhere), while
EfficientNet-Lite0 really classifies chelsea.png and the Piper voice really speaks
task 0's answer; Whisper then hears the WAV and we check it names the cat."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from _experts import loaded
from engine import events as ev
from engine.experts import ExpertRegistry
from engine.session import Engine
from engine.testing import ScriptedController

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."
PLAN = [
    {"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}},
    {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
]


@pytest.fixture(scope="module")
def experts():
    from engine.experts.efficientnet import EfficientNetLite0
    from engine.experts.piper import PiperJoe

    return loaded(EfficientNetLite0), loaded(PiperJoe)


def test_showcase_runs_the_real_experts(settings, experts):
    controller = ScriptedController([json.dumps(PLAN), "It is a cat."])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry(experts))
    events = list(engine.run(SHOWCASE, [str(ROOT / "samples" / "chelsea.png")]))
    finished = {e.task_id: e for e in events if isinstance(e, ev.TaskFinished)}
    assert set(finished) == {0, 1}, [e for e in events if isinstance(e, ev.TaskFailed)]
    assert "cat" in finished[0].text and finished[0].model_id == "timm/tf_efficientnet_lite0.in1k"
    wav = Path(finished[1].files[0])
    assert wav.suffix == ".wav" and wav.parent == Path(events[0].run_dir)
    with wave.open(str(wav)) as w:
        assert 0.5 < w.getnframes() / w.getframerate() < 6
    # the resource was substituted by the top label, without its score: the voice says "tiger cat"
    assert finished[1].data["text"] == finished[0].data["labels"][0]["label"] and "%" not in finished[1].data["text"]
    answer = events[-1]
    assert isinstance(answer, ev.AnswerDone) and str(wav) in answer.text

    from engine.experts.whisper import WhisperTinyEn

    heard = loaded(WhisperTinyEn).transcribe(_samples(wav))[0].lower()
    assert "cat" in heard, heard


def _samples(path):
    from engine.experts.media import load_audio

    return load_audio(path, 16000)[0]
