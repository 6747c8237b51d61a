"""Pulling a model from the Models view, against the local fake Hub (tests/fakehub.py):
progress reaches the end, the files land verified in the hub cache, the view says so;
Cancel stops a pull mid-file, leaves nothing half-written where loaders look, and
the next pull resumes it."""

from __future__ import annotations

import threading

import pytest

import pytestqt  # noqa: E402,F401
from fakehub import sha256  # noqa: E402
from test_models_pull import (REPO, WEIGHTS, cache, hf_offline, hub, incomplete_weights,  # noqa: E402,F401
                              lock_file, snapshot)

from engine.experts import ExpertRegistry  # noqa: E402
from engine.session import Engine  # noqa: E402
from engine.testing import ScriptedController  # noqa: E402


@pytest.fixture
def view(qtbot, settings, hub, lock_file, cache, hf_offline, monkeypatch):  # noqa: F811
    """The Models view of a window with offline mode off, ``REPO`` selected."""
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
    return view


def idle(view) -> bool:
    return (view.pull_button.isEnabled() and not view.pull_cancel.isEnabled() and view.pull_bar.isHidden()
            and not [t for t in threading.enumerate() if t.name == "hgpt-pull"])


def test_pull_from_the_models_view(view, qtbot, cache):  # noqa: F811
    progress = []
    view.pull_progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(view.pull_done, timeout=60_000):
        view.pull_button.click()
        assert view.pull_cancel.isEnabled() and not view.pull_button.isEnabled()
    assert view.pull_label.text() == f"{REPO} is installed.", view.pull_label.text()
    assert progress and progress[-1][0] == progress[-1][1] > 0
    assert (snapshot(cache) / "weights" / "model.bin").is_file()
    assert view.pull_button.isEnabled() and not view.pull_cancel.isEnabled()


def test_cancel_stops_a_pull_mid_file_and_the_next_pull_resumes(view, qtbot, hub, cache):  # noqa: F811
    hub.delay = 0.05  # the local Hub sends 64 KiB every 50 ms: about 2.5 s for the weights
    incomplete = incomplete_weights(cache)
    view.pull_button.click()
    qtbot.waitUntil(lambda: incomplete.exists() and incomplete.stat().st_size >= 2**20, timeout=30_000)
    assert view.pull_bar.isVisible() and view.pull_cancel.isEnabled()
    with qtbot.waitSignal(view.pull_done, timeout=10_000):
        view.pull_cancel.click()
        assert view.pull_label.text() == "Cancelling…" and not view.pull_cancel.isEnabled()
    assert view.pull_label.text() == f"Pull of {REPO} cancelled. Pulling it again resumes where it stopped."
    qtbot.waitUntil(lambda: idle(view), timeout=5_000)
    partial = incomplete.stat().st_size
    assert 0 < partial < len(WEIGHTS)  # kept in the staging cache, for the next pull to resume
    qtbot.wait(300)
    assert incomplete.stat().st_size == partial  # the transfer stopped, not just the view
    assert not (snapshot(cache) / "weights" / "model.bin").exists()
    assert not list((cache / "models--hgpt-test--tiny-model").rglob(sha256(WEIGHTS)))

    hub.delay = 0.0
    with qtbot.waitSignal(view.pull_done, timeout=60_000):
        view.pull_button.click()
    assert view.pull_label.text() == f"{REPO} is installed.", view.pull_label.text()
    assert hub.gets(f"/cdn/{sha256(WEIGHTS)}")[-1][2] == f"bytes={partial}-"
    assert (snapshot(cache) / "weights" / "model.bin").read_bytes() == WEIGHTS
    assert not incomplete.exists()
    qtbot.waitUntil(lambda: idle(view), timeout=5_000)
