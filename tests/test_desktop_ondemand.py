"""Models on demand in the window: the plan panel's pre-flight with Download and run (the
fake Hub through huggingface_hub, a real tiny ViT that then classifies the cat), the
Models view's memory column and a Hub id typed into the search box pulled, and the
Settings for a controller server (Test connection) and where experts run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pytestqt  # noqa: F401
from fakehub import FakeHub
from test_llm_remote import FakeServer

from engine.catalog import open_catalog
from engine.experts import ExpertRegistry
from engine.session import Engine
from engine.testing import ScriptedController, scripted_planner

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
REPO = "hgpt-test/tiny-vit"


@pytest.fixture(scope="module")
def vit_files(tmp_path_factory):
    from tiny_hf import build_vit

    folder = build_vit(tmp_path_factory.mktemp("vit"))
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def hub(vit_files, monkeypatch, tmp_path):
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with FakeHub({(REPO, name): data for name, data in vit_files.items()},
                 info={REPO: {"pipeline_tag": "image-classification", "library_name": "transformers"}}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)

        def online():  # an engine with offline mode off puts back HF_HUB_OFFLINE=1 (this session's); say 0
            monkeypatch.setenv("HF_HUB_OFFLINE", "0")
            monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
            reset_sessions()

        server.online = online
        yield server
    reset_sessions()


def window_with(qtbot, settings, hub, vit_files, plan=None):
    from desktop.qt_main import MainWindow

    s = settings.with_(offline=False)
    controller = ScriptedController()
    if plan is not None:
        controller.enqueue(json.dumps(plan), "It is a cat.")

    def make():
        registry = ExpertRegistry(settings=s)
        catalog = open_catalog(s.catalog_path, registry)
        catalog.upsert([{"id": REPO, "pipeline_tag": "image-classification", "downloads": 10,
                         "library_name": "transformers", "size_mb": sum(map(len, vit_files.values())) / 2**20}])
        engine = Engine(s, controller=controller, registry=registry, catalog=catalog,
                        planner=scripted_planner(controller))
        hub.online()
        return engine

    window = MainWindow(s, engine_factory=make)
    qtbot.addWidget(window)
    window.show()
    window.host.get()
    return window


def test_the_plan_panel_shows_the_preflight_and_download_and_run_runs_it(qtbot, settings, hub, vit_files):
    plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}]
    window = window_with(qtbot, settings, hub, vit_files, plan)
    window.send("What animal is this?", [str(CHELSEA)])
    bar = window.plan.preflight
    qtbot.waitUntil(lambda: bar.fetch.isVisible(), timeout=30_000)
    assert "1 task needs a download" in bar.text.text() and f"hgpt models pull {REPO} --online" in bar.text.text()
    node = window.plan.view.nodes[0]
    assert node.verdict == "download" and node.model_id == REPO
    with qtbot.waitSignal(window.run_finished, timeout=120_000):
        bar.fetch.click()
    assert not bar.fetch.isVisible()
    run = window.store.runs(window.conversation_id)[-1]
    assert run.status == "done" and run.results["0"]["model_id"] == REPO
    assert run.results["0"]["status"] == "done", run.results["0"]
    assert "1 task runs here" in bar.text.text()
    window.close()


def test_run_without_goes_on_and_the_task_says_how_to_get_its_model(qtbot, settings, hub, vit_files):
    plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}]
    window = window_with(qtbot, settings, hub, vit_files, plan)
    window.send("What animal is this?", [str(CHELSEA)])
    qtbot.waitUntil(lambda: window.plan.preflight.skip.isVisible(), timeout=30_000)
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.plan.preflight.skip.click()
    run = window.store.runs(window.conversation_id)[-1]
    assert run.results["0"]["status"] == "failed" and "hgpt models pull" in run.results["0"]["error"]
    assert not hub.gets("/resolve/")
    window.close()


def test_models_view_shows_fit_and_pulls_a_typed_hub_id(qtbot, settings, hub, vit_files):
    window = window_with(qtbot, settings, hub, vit_files)
    view = window.models
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.model is not None, timeout=20_000)
    row = next(r for r in view.model.rows if r["id"] == REPO)
    assert row["fit"] == "fits"
    from PySide6.QtCore import Qt

    from engine import MODEL_COLUMNS

    assert view.model.headerData(MODEL_COLUMNS.index("fit"), Qt.Horizontal) == "memory"
    view.search.setText(f"{REPO}@main")
    qtbot.waitUntil(lambda: view.pull_button.text() == f"Pull {REPO}@main", timeout=5_000)
    with qtbot.waitSignal(view.pull_done, timeout=60_000):
        view.pull_button.click()
    assert view.pull_label.text() == f"{REPO}@main is installed.", view.pull_label.text()
    engine = window.host.get()
    assert REPO in engine.registry and engine.catalog.get(REPO)["installed"] is True
    window.close()


def test_settings_take_a_controller_url_test_it_and_keep_the_key_private(qtbot, settings, monkeypatch):
    import keyring
    from keyring.backends import fail

    from desktop.qt_settings import SettingsView

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())  # no keyring: a 0600 file
    server = FakeServer()
    server.replies += ["OK", "zqxv"]  # a short reply, then the grammar probe honoured
    try:
        view = SettingsView(settings)
        qtbot.addWidget(view)
        view.show_settings(settings)
        assert not view.server.test.isEnabled()
        view.controller.setText(server.url)
        assert view.server.test.isEnabled()
        view.server.model.setText("big-model")
        view.server.key.setText("sk-secret")
        with qtbot.waitSignal(view.server.tested, timeout=20_000):
            view.server.test.click()
        assert view.server.state.text().startswith("Connected in") and "takes a GBNF grammar" in view.server.state.text()
        assert server.requests[0]["auth"] == "Bearer sk-secret" and server.requests[0]["body"]["model"] == "big-model"
        assert "sk-secret" not in view.server.state.text()
        view.inference.mode.setCurrentIndex(view.inference.mode.findData("hybrid"))
        view.inference.url.setText("http://127.0.0.1:8004")
        with qtbot.waitSignal(view.saved, timeout=5_000):
            view.save_button.click()
    finally:
        server.close()
    saved = json.loads(settings.settings_file.read_text())
    assert saved["controller"] == server.url and saved["controller_model"] == "big-model"
    assert saved["inference_mode"] == "hybrid" and saved["remote_url"] == "http://127.0.0.1:8004"
    assert oct(settings.settings_file.stat().st_mode & 0o777) == "0o600"
    server.status = 500
    view.server.run_test()
    qtbot.waitUntil(lambda: view.server.state.text().startswith("Not connected"), timeout=20_000)
