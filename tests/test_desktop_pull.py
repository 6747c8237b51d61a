"""Pulling a model from the Models view, against the local fake Hub (tests/fakehub.py):
progress reaches the end, the files land verified in the hub cache, the view says so."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
from test_models_pull import REPO, cache, hf_offline, hub, lock_file, snapshot  # noqa: E402,F401

from engine.experts import ExpertRegistry  # noqa: E402
from engine.pipeline import Engine  # noqa: E402
from engine.testing import ScriptedController  # noqa: E402


def test_pull_from_the_models_view(qtbot, settings, hub, lock_file, cache, hf_offline,  # noqa: F811
                                   monkeypatch):
    from desktop.qt_main import MainWindow

    s = settings.with_(offline=False)
    window = MainWindow(s, engine_factory=lambda: Engine(s, controller=ScriptedController(),
                                                          registry=ExpertRegistry()))
    qtbot.addWidget(window)
    window.show()
    window.host.get().catalog.upsert([{"id": REPO, "task": "image-classification", "downloads": 3}])
    # Building an engine with offline mode off puts back the environment as it was before
    # offline mode was first enforced (engine.offline): HF_HUB_OFFLINE=1, which this test
    # session sets. Say 0 afterwards, as a user going online would.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    hf_offline(False)
    view = window.models
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.model is not None, timeout=10_000)
    assert view.pull_button.isEnabled(), view.pull_label.text()
    view.table.selectRow(0)
    assert view.selected_model() == REPO
    progress = []
    view.pull_progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(view.pull_done, timeout=60_000):
        view.pull_button.click()
        assert view.pull_cancel.isEnabled() and not view.pull_button.isEnabled()
    assert view.pull_label.text() == f"{REPO} is installed.", view.pull_label.text()
    assert progress and progress[-1][0] == progress[-1][1] > 0
    assert (snapshot(cache) / "weights" / "model.bin").is_file()
    assert view.pull_button.isEnabled() and not view.pull_cancel.isEnabled()
