"""The window's "Local API server" setting: Save with it on serves the window's own engine on
127.0.0.1 (its runs land in the same history), a new port restarts it, off stops it, and
closing the window stops it (pytest-qt, a real uvicorn server, httpx as the client)."""

from __future__ import annotations

import socket

import httpx
import pytest

from _serve import fake_engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False


@pytest.fixture
def window(qtbot, settings):
    from desktop.qt_main import MainWindow

    engine, _ = fake_engine(settings)
    window = MainWindow(settings, engine_factory=lambda: engine)
    qtbot.addWidget(window)
    return window


def save(qtbot, view):
    with qtbot.waitSignal(view.saved, timeout=5_000):
        view.save_button.click()


def test_the_settings_toggle_starts_moves_and_stops_the_server(qtbot, window, settings):
    view = window.settings_view
    assert not view.api.enabled.isChecked() and view.api.port.value() == 8004
    first, second = free_port(), free_port()
    view.api.enabled.setChecked(True)
    view.api.port.setValue(first)
    save(qtbot, view)
    url = f"http://127.0.0.1:{first}"
    assert view.api.state.text().startswith(f"Serving on {url}")
    assert httpx.get(f"{url}/health").json()["status"] == "ok"
    r = httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": "shout it"}]}, timeout=60)
    assert r.status_code == 200
    assert [run.request for run in window.store.runs()] == ["shout it"]  # the window's own history

    view.api.port.setValue(second)
    save(qtbot, view)
    assert refused(url) and httpx.get(f"http://127.0.0.1:{second}/health").status_code == 200

    view.api.enabled.setChecked(False)
    save(qtbot, view)
    assert refused(f"http://127.0.0.1:{second}") and view.api.state.text() == "Off."
    from engine import load_settings

    kept = load_settings(settings.home)  # the choice is kept in settings.json
    assert kept.api_port == second and not kept.api_server


def test_a_port_in_use_is_said_and_closing_the_window_stops_the_server(qtbot, window):
    view = window.settings_view
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        view.api.enabled.setChecked(True)
        view.api.port.setValue(port)
        save(qtbot, view)
        assert view.api.state.text().startswith("Not serving:") and "in use" in view.api.state.text()
        assert window.api_server is None
    port = free_port()
    view.api.port.setValue(port)
    save(qtbot, view)
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    window.close()
    assert window.api_server is None and refused(f"http://127.0.0.1:{port}")


def test_an_api_key_set_in_settings_is_asked_of_every_program(qtbot, window, settings):
    view = window.settings_view
    port = free_port()
    view.api.enabled.setChecked(True)
    view.api.port.setValue(port)
    view.api.key.setText("short")
    view.save_button.click()  # refused, in one line, and nothing is served or saved
    assert "shorter than 16 characters" in view.status.text() and window.api_server is None
    key = "a-long-local-key-0123456789"
    view.api.key.setText(key)
    save(qtbot, view)
    url = f"http://127.0.0.1:{port}"
    assert "Programs must send the API key" in view.api.state.text()
    assert httpx.get(f"{url}/v1/models").status_code == 401
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    from engine import load_settings

    assert load_settings(settings.home).api_key == key  # kept (the keyring, else settings.json at 0600)
    assert key not in repr(load_settings(settings.home))
    view.api.key.setText("")  # no key: the server restarts open to this computer's programs
    save(qtbot, view)
    assert httpx.get(f"{url}/v1/models").status_code == 200
