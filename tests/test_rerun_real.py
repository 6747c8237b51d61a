"""Replay and re-run with the real models: the showcase planned by the real SmolLM2
and run by EfficientNet-Lite0 and the Piper voice, then replayed; a three-task chain
of RapidOCR → spaCy → Piper re-run from its second task. The deterministic experts
(classification, OCR, NER, TTS with its fixed seed) replay byte for byte, and the
records carry the provenance models.lock pins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from _experts import loaded
from engine import events as ev
from engine.experts import ExpertRegistry
from engine.models import load_lock
from engine.plan.graph import Plan
from engine.session import Engine
from engine.testing import collect

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."
CHAIN = [{"task": "image-to-text", "id": 0, "dep": [-1], "args": {"image": "sign.png"}},
         {"task": "token-classification", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
         {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<resource>-1"}}]


@pytest.fixture(scope="module")
def experts():
    from engine.experts.efficientnet import EfficientNetLite0
    from engine.experts.ocr import RapidOcr
    from engine.experts.piper import PiperJoe
    from engine.experts.spacy_ner import SpacyEnSm

    return [loaded(cls) for cls in (EfficientNetLite0, RapidOcr, SpacyEnSm, PiperJoe)]


@pytest.fixture
def sign(tmp_path) -> Path:
    path = tmp_path / "sign.png"
    image = Image.new("RGB", (900, 200), "white")
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_file), 48) if font_file.exists() else ImageFont.load_default(size=48)
    ImageDraw.Draw(image).text((20, 60), "Alice met Bob in Paris", fill="black", font=font)
    image.save(path)
    return path


def test_the_showcase_replays_byte_identical_with_its_provenance(settings, llm, experts):
    engine = Engine(settings, controller=llm, registry=ExpertRegistry(experts))
    events = list(engine.run(SHOWCASE, [str(ROOT / "samples" / "chelsea.png")]))
    done = events[-1]
    assert isinstance(done, ev.AnswerDone), events[-1]
    record = done.record
    assert [t["task"] for t in record["plan"]] == ["image-classification", "text-to-speech"]

    # provenance: the lock's pins, library versions, inputs and outputs by hash; the controller's GGUF
    lock = load_lock()
    classify = record["tasks"]["0"]["provenance"]
    entry = lock.get("efficientnet-lite0")
    assert classify["lock"] == "efficientnet-lite0" and classify["revision"] == entry.version
    assert classify["files"] == [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in entry.files]
    assert classify["runtime"]["name"] == "torch" and classify["runtime"]["libraries"]["torch"]
    assert classify["runtime"]["device"] == "cpu"
    assert classify["inputs"]["image"]["file"] == "chelsea.png"
    speech = record["tasks"]["1"]["provenance"]
    assert speech["seed"] == 0 and speech["runtime"]["libraries"]["onnxruntime"]
    controller = record["provenance"]["controller"]
    assert controller["gguf_sha256"] == lock.get("smollm2-135m-instruct").files[0].sha256
    assert controller["sha256_from"].startswith("models.lock") and controller["chat_format"]
    assert controller["sampling"]["temperature"] == 0.0 and controller["sampling"]["seed"] == 0

    replay = list(engine.replay(record["run_id"]))
    started = [e.task_id for e in replay if isinstance(e, ev.TaskStarted)]
    assert started == [0, 1]  # recomputed, not read from the cache
    compared = next(e for e in replay if isinstance(e, ev.ReplayCompared))
    assert [(t["task"], t["verdict"]) for t in compared.tasks] == [
        ("image-classification", "identical"), ("text-to-speech", "identical")], compared.tasks
    assert replay[-1].record["origin"] == {"kind": "replay", "run_id": record["run_id"]}


def test_rerun_from_the_second_task_of_a_real_chain(settings, llm, experts, sign):
    engine = Engine(settings, controller=llm, registry=ExpertRegistry(experts))
    # the chain is given in plan review (the planner is tested elsewhere)
    events = collect(engine.run("Read the sign, find the names in it and say them out loud.", [str(sign)],
                                review=True), review=lambda plan, problems: Plan.from_list(CHAIN))
    done = events[-1]
    assert isinstance(done, ev.AnswerDone), events[-1]
    record = done.record
    assert record["tasks"]["0"]["text"] == "Alice met Bob in Paris"
    assert "Alice (person)" in record["tasks"]["1"]["text"]
    assert [record["tasks"][k]["provenance"]["lock"] for k in "012"] == [
        "rapidocr-pp-ocrv4", "spacy-en_core_web_sm", "piper-en_US-joe-medium"]

    rerun = list(engine.rerun(record["run_id"], 1))
    assert [e.task_id for e in rerun if isinstance(e, ev.TaskStarted)] == [1, 2]
    finished = {e.task_id: e for e in rerun if isinstance(e, ev.TaskFinished)}
    assert finished[0].cached and not finished[1].cached and not finished[2].cached
    new = rerun[-1].record
    for key in "012":  # deterministic: the same bytes
        assert new["tasks"][key]["text"] == record["tasks"][key]["text"]
        assert new["tasks"][key]["provenance"]["outputs"] == record["tasks"][key]["provenance"]["outputs"]
    assert json.loads((Path(new["run_dir"]) / "run.json").read_text())["origin"]["rerun_tasks"] == [1, 2]

    compared = next(e for e in engine.replay(record["run_id"]) if isinstance(e, ev.ReplayCompared))
    assert [t["verdict"] for t in compared.tasks] == ["identical"] * 3, compared.tasks
