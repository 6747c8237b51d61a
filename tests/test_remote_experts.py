"""Hybrid and remote inference against another hgpt: a real ``hgpt serve`` process on
loopback serving its installed experts (EfficientNet, spaCy, Piper, MiniLM …) over the
Hugging Face inference task protocol, called through huggingface_hub's InferenceClient.
The local engine plans with a scripted controller (the code around the models); every
expert that runs is real, here or there. The failures (500, a hang, the wrong shape, a
closed port) come from small servers in tests/_remote.py.
"""

from __future__ import annotations

import json
import socket
import wave
from pathlib import Path

import pytest
from _remote import BadServer, hgpt_serve

from engine import events as ev
from engine.catalog import open_catalog
from engine.experts import ExpertRegistry
from engine.experts.base import ExpertContext
from engine.experts.efficientnet import EfficientNetLite0
from engine.experts.remote import RemoteEndpoint, RemoteExpert
from engine.errors import ExpertError
from engine.session import Engine
from engine.testing import ScriptedController, collect, scripted_planner

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
EFFICIENTNET = "timm/tf_efficientnet_lite0.in1k"
PLAN = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}},
        {"task": "token-classification", "id": 1, "dep": [-1], "args": {"text": "Barack Obama was born in Hawaii."}},
        {"task": "text-to-speech", "id": 2, "dep": [0], "args": {"text": "<resource>-0"}}]


@pytest.fixture(scope="module")
def other_hgpt(tmp_path_factory):
    with hgpt_serve(tmp_path_factory.mktemp("other-hgpt")) as url:
        yield url


@pytest.fixture
def online(monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr("engine.experts.remote.BACKOFF", 0.05)
    reset_sessions()
    yield
    reset_sessions()


def engine_for(settings, url, mode, *, plan=PLAN, replies=(), local=(EfficientNetLite0,), cards=()):
    controller = ScriptedController([json.dumps(plan), *replies, "Done."])
    settings = settings.with_(offline=False, inference_mode=mode, remote_url=url, remote_timeout=120)
    registry = ExpertRegistry([cls() for cls in local], settings=settings)
    catalog = open_catalog(settings.catalog_path, registry)
    if cards:
        catalog.upsert(list(cards))
    return Engine(settings, controller=controller, registry=registry, catalog=catalog,
                  planner=scripted_planner(controller))


def finished(events) -> dict[int, ev.TaskFinished]:
    return {e.task_id: e for e in events if isinstance(e, ev.TaskFinished)}


def test_hybrid_runs_installed_models_here_and_the_rest_at_the_other_hgpt(settings, online, other_hgpt):
    engine = engine_for(settings, other_hgpt, "hybrid")
    events = collect(engine.run("classify, find names, read the answer aloud", [CHELSEA]))
    assert isinstance(events[-1], ev.AnswerDone), events[-1]
    pre = next(e for e in events if isinstance(e, ev.PreflightReady))
    assert [t["verdict"] for t in pre.tasks] == ["runs", "remote", "remote"]
    assert pre.tasks[1]["where"] == other_hgpt
    done = finished(events)
    assert done[0].model_id == EFFICIENTNET and "remote" not in done[0].data and "cat" in done[0].text.lower()
    assert done[1].model_id == "spacy/en_core_web_sm" and done[1].data["remote"]["endpoint"] == other_hgpt
    assert {(e["text"], e["label"]) for e in done[1].data["entities"]} >= {("Barack Obama", "PERSON"),
                                                                          ("Hawaii", "GPE")}
    speech = Path(done[2].files[0])
    assert speech.parent == Path(events[0].run_dir) and done[2].model_id.startswith("rhasspy/piper-voices")
    with wave.open(str(speech)) as w:
        assert w.getnframes() / w.getframerate() > 0.3  # it really spoke the label
    selected = {e.task_id: e for e in events if isinstance(e, ev.ModelSelected)}
    assert selected[1].candidates[0]["remote"] == other_hgpt


def test_remote_mode_runs_every_expert_at_the_endpoint(settings, online, other_hgpt):
    engine = engine_for(settings, other_hgpt, "remote", plan=PLAN[:1])
    events = collect(engine.run("what animal?", [CHELSEA]))
    done = finished(events)
    assert done[0].model_id == EFFICIENTNET and done[0].data["remote"]["endpoint"] == other_hgpt
    assert "cat" in done[0].text.lower()
    assert not engine.registry.get(EFFICIENTNET).loaded  # the local copy was never loaded


def test_hybrid_falls_back_to_the_local_model_when_the_endpoint_is_down(settings, online):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    card = {"id": "google/vit-base-patch16-224", "pipeline_tag": "image-classification", "downloads": 10**9,
            "library_name": "transformers"}
    engine = engine_for(settings, closed, "hybrid", plan=PLAN[:1], cards=[card],
                        replies=[json.dumps({"id": card["id"], "reason": "the most downloaded"})])
    events = collect(engine.run("what animal?", [CHELSEA]))
    done = finished(events)[0]
    assert done.data["remote"]["fallback"] == EFFICIENTNET and "cat" in done.text.lower()
    assert "is down or not answering (connection refused, 3 tries)" in done.data["remote"]["why"]


@pytest.mark.parametrize("server, words", [
    (dict(status=500), "is down or not answering (HTTP 500, 3 tries)"),
    (dict(status=200, delay=3.0), "is down or not answering (timed out, 3 tries)"),
    (dict(status=404), "has no model acme/ner for token-classification (HTTP 404)"),
    (dict(status=200, body={"unexpected": True}), "answered token-classification with"),
])
def test_endpoint_faults_fail_the_task_in_one_line_and_the_run_goes_on(settings, online, server, words):
    bad = BadServer(**server)
    try:
        card = {"id": "acme/ner", "pipeline_tag": "token-classification", "downloads": 5,
                "library_name": "transformers"}
        engine = engine_for(settings, bad.url, "hybrid", plan=PLAN[:2], cards=[card])
        engine.settings = engine.settings.with_(remote_timeout=1.0)
        events = collect(engine.run("classify and find names", [CHELSEA]))
    finally:
        bad.close()
    failed = next(e for e in events if isinstance(e, ev.TaskFailed))
    assert failed.task_id == 1 and words in failed.error and "\n" not in failed.error
    assert finished(events)[0].model_id == EFFICIENTNET and isinstance(events[-1], ev.AnswerDone)
    assert bad.posts == (3 if "tries" in words else 1)


def test_offline_mode_refuses_remote_inference_in_one_line(settings):
    from engine.offline import block_network

    engine = engine_for(settings, "https://example.invalid", "hybrid", plan=PLAN[:2])
    engine.update(engine.settings.with_(offline=True))
    with block_network() as log:
        events = collect(engine.run("classify and find names", [CHELSEA]))
    notices = [e.message for e in events if isinstance(e, ev.RunNotice)]
    assert len(notices) == 1 and notices[0].startswith("offline mode is on, so the inference endpoint "
                                                       "(https://example.invalid) is not used")
    assert not log.refused and not log.loopback
    assert finished(events)[0].model_id == EFFICIENTNET  # the local part still runs
    assert isinstance(events[-1], ev.AnswerDone)


def test_a_remote_expert_refuses_a_task_the_protocol_cannot_carry(online):
    expert = RemoteExpert("acme/depth", "depth-estimation", RemoteEndpoint("http://127.0.0.1:9"))
    assert "cannot be run remotely" in expert.missing()
    with pytest.raises(ExpertError, match="cannot be run remotely"):
        expert("depth-estimation", {"image": CHELSEA}, ExpertContext(Path("/tmp")))


def test_the_hub_login_goes_only_to_hugging_face(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_my_login")
    assert RemoteEndpoint("http://127.0.0.1:9").client("a/b").token == "none"  # never the Hub login
    assert RemoteEndpoint("").client("a/b").token is None  # huggingface_hub sends the login to the Hub
    assert RemoteEndpoint("http://127.0.0.1:9", token="k").client("a/b").token == "k"
    assert "secret" not in repr(RemoteEndpoint("http://x", token="secret"))
    assert RemoteEndpoint("").url == "https://router.huggingface.co/hf-inference"
    assert RemoteEndpoint("").model_url("org/m") == "https://router.huggingface.co/hf-inference/models/org/m"
    assert RemoteEndpoint("https://e.endpoints.huggingface.cloud/x").model_url("org/m") == \
        "https://e.endpoints.huggingface.cloud/x"
    assert RemoteEndpoint("http://h:1/api/{model}/run").model_url("org/m") == "http://h:1/api/org/m/run"
