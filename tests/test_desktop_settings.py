"""Settings saved in the window reach the engine for the next request, without a
restart: the memory budget, the data folder and the controller (pytest-qt, a real
Engine whose controller and registry are built by the engine's own factories)."""

from __future__ import annotations

import json

import pytest
from engine.controller import Controller
from engine.experts import Expert, ExpertRegistry, ExpertResult


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class Translating(Controller):
    """Plans a translation of the request's last word and answers with the results."""

    accepts_grammar = True

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None):
        word = messages[-1]["content"].splitlines()[0].split()[-1]
        return json.dumps([{"task": "translation", "id": 0, "args": {"text": word}}])

    def stream(self, messages, *, max_tokens=512, cancel=None):
        yield f"{self.name} says: " + messages[-1]["content"].split("Results:")[-1].strip()


@pytest.fixture
def built(monkeypatch):
    """The controllers the engine builds, by the path its settings name."""
    import engine.controller as controllers
    import engine.experts.registry as registries

    made = []

    def load(settings):
        made.append(settings.controller)
        return Translating(settings.controller or "embedded")

    monkeypatch.setattr(controllers, "load_controller", load)
    monkeypatch.setattr(registries, "build_registry", lambda settings=None: ExpertRegistry([Upper()], settings))
    return made


def ask(qtbot, window, text):
    window.chat.composer.input.setPlainText(text)
    with qtbot.waitSignal(window.run_finished, timeout=20_000):
        window.chat.composer.send_button.click()
    return window.store.runs(window.conversation_id)[-1]


def test_saved_settings_apply_to_the_next_request(qtbot, settings, built, tmp_path):
    from desktop.qt_main import MainWindow

    window = MainWindow(settings.with_(memory_budget_mb=2048))
    qtbot.addWidget(window)
    window.show()
    first = ask(qtbot, window, "translate hola")
    assert first.status == "done" and first.run_dir.startswith(str(settings.home))
    assert window.host.get().memory.budget_mb == 2048

    gguf = tmp_path / "other.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    home = tmp_path / "elsewhere"
    view = window.settings_view
    view.memory.setValue(512)
    view.controller.setText(str(gguf))
    view.home.setText(str(home))
    with qtbot.waitSignal(view.saved, timeout=5_000):
        view.save_button.click()

    engine = window.host.get()
    assert engine.memory.budget_mb == 512  # applied at once
    second = ask(qtbot, window, "translate adios")
    assert second.status == "done" and second.run_dir.startswith(str(home / "runs"))
    assert built == ["", str(gguf)]  # the controller was rebuilt from the new setting
    assert window.store.path == home / "hgpt.db" and window.store.messages(window.conversation_id)[-1].content \
        .startswith(f"{gguf} says:")
    window.close()
