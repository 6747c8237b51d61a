"""A request through the whole engine, served by models discovered in a Hugging Face cache.

The cache (built in tmp) holds a tiny DETR detector and a tiny ViT classifier; the
plan is scripted (the controller is not what is tested here). The detector's PNG is
handed to the classifier as ``<resource>-0``, as HuggingGPT chains experts.
"""

from __future__ import annotations

import json

import pytest

import tiny_hf
from engine import events as ev
from engine.experts import ExpertRegistry
from engine.experts import hf
from engine.session import Engine
from engine.testing import ScriptedController

import transformers  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore")


def test_cached_models_serve_a_chained_plan(settings, tmp_path, images, monkeypatch):
    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/tiny-detr", tiny_hf.build_detr(tmp_path / "detr"),
                        card="---\npipeline_tag: object-detection\n---\n")
    tiny_hf.cache_model(cache, "org/tiny-vit", tiny_hf.build_vit(tmp_path / "vit"), commit="b" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HGPT_EXPERT_BACKEND", "torch")
    registry = ExpertRegistry()
    hf.register(registry)
    registry.get("org/tiny-detr").options["threshold"] = 0.0
    plan = json.dumps([
        {"task": "object-detection", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}},
        {"task": "image-classification", "id": 1, "dep": [0], "args": {"image": "<resource>-0"}},
    ])
    engine = Engine(settings, controller=ScriptedController([plan, "Boxes drawn, then classified."]),
                    registry=registry)
    events = list(engine.run("find the objects in chelsea.png, then say what the picture shows",
                             [str(images["chelsea"])]))
    finished = {e.task_id: e for e in events if isinstance(e, ev.TaskFinished)}
    assert [finished[0].model_id, finished[1].model_id] == ["org/tiny-detr", "org/tiny-vit"]
    assert finished[0].data["boxes_drawn"] == 5 and finished[0].files[0].endswith(".png")
    assert finished[1].data["labels"][0]["label"] in {"cat", "dog", "car"}
    assert events[-1].kind == "AnswerDone"
