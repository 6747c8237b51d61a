"""The engine's views for the welcome page, result overlays and audio: what this computer
has, which task types work here (exactly those the installed experts run), the
controller advice, overlays read from real detection and segmentation data, and the
waveform of a real recording."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from engine.controller.packs import ControllerInfo
from engine.devices import Gpu, gpus, parse_nvidia_smi
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.views.audio import tail, waveform
from engine.views.overlay import overlay_for
from engine.views.welcome import EXAMPLES, Machine, controller_advice, machine, offers

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"


class Ready(Expert):
    model_id = "test/ready"
    tasks = ("image-classification", "translation")

    def run(self, task, args, ctx):
        return ExpertResult(text="x")


class AlsoReady(Expert):
    model_id = "test/also"
    tasks = ("translation", "automatic-speech-recognition")

    def run(self, task, args, ctx):
        return ExpertResult(text="x")


class CannotRun(Expert):
    model_id = "test/cannot"
    tasks = ("text-to-image",)

    def missing(self):
        return "pip install something"


def test_offers_are_exactly_the_task_types_installed_experts_run():
    found = offers(ExpertRegistry([Ready(), AlsoReady(), CannotRun()]))
    assert [o.task for o in found] == ["translation", "image-classification", "automatic-speech-recognition"]
    by_task = {o.task: o for o in found}
    assert by_task["translation"].models == ("test/also", "test/ready")
    assert by_task["image-classification"].needs == "image"
    assert by_task["automatic-speech-recognition"].needs == "audio"
    assert by_task["translation"].needs == "" and by_task["translation"].example
    assert by_task["image-classification"].sample.endswith("chelsea.png")  # the window attaches it
    assert by_task["translation"].sample == by_task["automatic-speech-recognition"].sample == ""


def test_an_example_that_looks_for_a_person_is_tried_on_a_person():
    """The built-in face detector, people segmenter and pose map find nothing in the cat: those
    examples attach the astronaut; the others the cat; an example on text attaches nothing."""
    from engine.views.welcome import sample_for

    assert sample_for("object-detection").endswith("astronaut.png")
    assert sample_for("openpose-control").endswith("astronaut.png")
    assert sample_for("image-classification").endswith("chelsea.png")
    assert all(Path(sample_for(t)).is_file() for t in ("object-detection", "image-classification"))


def test_every_task_type_has_an_example_request():
    from engine.tasks import TASK_TYPES

    assert set(TASK_TYPES) <= set(EXAMPLES)
    for name, (request, needs) in EXAMPLES.items():
        assert request.strip() and needs in ("", "image", "audio"), name
        if needs:  # an example that needs a file is for a task that reads one
            assert needs in TASK_TYPES[name].inputs, name


def test_machine_facts_read_this_computer():
    here = machine()
    assert here.memory_mb > 0 and here.cores >= 1
    assert here.lines()[0].endswith("GB of memory")
    assert isinstance(gpus(), list)


def test_gpu_lines_and_nvidia_smi_parsing():
    assert parse_nvidia_smi("NVIDIA GeForce RTX 3060, 12288\nbad line\n") == [Gpu("NVIDIA GeForce RTX 3060", 12288.0)]
    lines = Machine(16384, 8, [Gpu("NVIDIA GeForce RTX 3060", 12288.0)]).lines()
    assert lines == ["16.0 GB of memory", "8 CPU cores", "GPU: NVIDIA GeForce RTX 3060, with 12.0 GB of its own memory"]
    assert Machine(8192, 1, []).lines()[-1] == "no GPU found: models run on the CPU"
    assert "shares the 16.0 GB" in Machine(16384, 8, [Gpu("Apple silicon GPU", 16384, shared=True)]).lines()[-1]


def _options(installed_big: bool):
    return [ControllerInfo("big", "Big-1.5B", 1065.6, 6000, 3, "", installed_big),
            ControllerInfo("small", "Small-135M", 93.8, 0, 1, "", True)]


def test_controller_advice_follows_memory_and_network(settings):
    online = settings.with_(offline=False, controller="")
    advice = controller_advice(online, 16000, _options(installed_big=False))
    assert (advice.name, advice.installed) == ("big", False)
    assert "1.0 GB download" in advice.sentence()
    offline = controller_advice(settings.with_(offline=True), 16000, _options(installed_big=False))
    assert "download" not in offline.sentence().split("Offline")[0] and "Offline mode is on" in offline.sentence()
    small = controller_advice(online, 2000, _options(installed_big=False))
    assert (small.name, small.installed, small.in_use) == ("small", True, True)
    assert "hgpt uses it" in small.sentence()


def test_detection_overlay_from_transformers_and_mediapipe_data(tmp_path):
    drawn = tmp_path / "0-detections.png"
    drawn.write_bytes(CHELSEA.read_bytes())
    hf = {"detections": [{"label": "cat", "score": 0.91, "box": {"xmin": 10, "ymin": 20, "xmax": 200, "ymax": 250}}]}
    o = overlay_for("object-detection", {"image": str(CHELSEA)}, hf, [str(drawn)])
    assert o.image == str(CHELSEA) and o.drawn == str(drawn)
    assert [(b.label, b.score, b.x0, b.y1) for b in o.boxes] == [("cat", 0.91, 10, 250)]
    assert o.summary() == "1 box: cat (91%)"
    mp = {"objects": [{"label": "face", "score": 0.8, "box": [1, 2, 30, 40]}]}
    assert overlay_for("object-detection", {"image": str(CHELSEA)}, mp, [str(drawn)]).boxes[0].x1 == 30
    assert overlay_for("object-detection", {"image": str(CHELSEA)}, {"objects": []}, [str(drawn)]).summary() \
        == "nothing found"
    assert overlay_for("image-classification", {"image": str(CHELSEA)}, hf, []) is None
    assert overlay_for("object-detection", {"image": str(tmp_path / "gone.png")}, hf, [str(drawn)]) is None


def test_segmentation_overlay_takes_masks_only_from_the_tasks_folder(tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    run.mkdir()
    drawn = run / "0-segments.png"
    Image.new("RGB", (8, 8)).save(drawn)
    inside = run / "0-segments-mask.png"
    Image.new("L", (8, 8), 255).save(inside)
    elsewhere = tmp_path / "other.png"
    Image.new("L", (8, 8), 255).save(elsewhere)
    data = {"segments": [{"label": "sky", "area": 0.5, "mask": str(inside)},
                         {"label": "cat", "area": 0.5, "mask": str(elsewhere)}]}
    o = overlay_for("image-segmentation", {"image": str(CHELSEA)}, data, [str(drawn)])
    assert [(m.label, m.path) for m in o.masks] == [("sky", str(inside))]
    person = run / "0-people-mask.png"
    Image.new("L", (8, 8), 255).save(person)
    o = overlay_for("image-segmentation", {"image": str(CHELSEA)}, {"person_fraction": 0.4},
                    [str(drawn), str(person)])
    assert [(m.label, m.area) for m in o.masks] == [("person", 0.4)] and "40% of the picture" in o.summary()


def test_waveform_and_tail_of_a_real_recording(tmp_path):
    rate = 8000
    t = np.arange(rate * 2) / rate
    signal = np.where(t < 1, 0.1, 0.8) * np.sin(2 * np.pi * 440 * t)  # quiet second, loud second
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())
    wf = waveform(path, buckets=10)
    assert wf.seconds == pytest.approx(2.0) and wf.rate == rate and len(wf.peaks) == 10
    assert max(wf.peaks[:5]) < 0.2 and min(wf.peaks[5:]) > 0.9
    rest = tail(path, 1.5, tmp_path / "play")
    with wave.open(str(rest)) as w:
        assert w.getnframes() == pytest.approx(rate * 0.5, abs=2)
    assert tail(path, 0) == path
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(ValueError, match="not readable audio"):
        waveform(tmp_path / "bad.wav")
