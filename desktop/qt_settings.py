"""The Settings view: the controller (a GGUF, or a server with its model name, API key and
Test connection), its resources, where experts run, offline mode, review, data folder.

A form over ``engine.settings.Settings``. Save checks what can be checked at once
(the GGUF file's magic, a writable data folder), writes ``settings.json`` with
``Settings.save()`` (and the data folder's location with ``save_home``), and
emits ``saved`` with the new settings; the window then rebuilds the engine on the
next request. Problems are shown under the form, in words that say the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea,
    QSizePolicy, QSpinBox, QVBoxLayout, QWidget,
)

from engine import HgptError, ServeConfig, Settings, check_controller, home_is_forced, save_home

from .qt_a11y import describe
from .qt_chat import STATUS_COLOURS
from .qt_remote import ControllerServerBox, InferenceBox


def _spin(low: int, high: int, special: str = "", step: int = 1) -> QSpinBox:
    box = QSpinBox(minimum=low, maximum=high, singleStep=step)
    if special:
        box.setSpecialValueText(special)
    return box


class SettingsView(QWidget):
    saved = Signal(object)  # Settings

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.controller = QLineEdit(placeholderText="the best controller for this memory (default), a GGUF file, "
                                    "or an OpenAI-compatible server: http://host:port")
        self.controller_button = QPushButton("Choose…")
        self.controller_button.clicked.connect(self.choose_controller)
        self.threads = _spin(0, max(64, os.cpu_count() or 1), "automatic")
        self.n_ctx = _spin(512, 131072, step=512)
        self.gpu_layers = _spin(-1, 999, "all (when a GPU backend is built in)")
        self.memory = _spin(0, 1_048_576, "60 % of memory", step=256)
        self.memory.setSuffix(" MB")
        self.results_cache = _spin(0, 1_048_576, "off", step=128)
        self.results_cache.setSuffix(" MB")
        self.offline = QCheckBox("Offline mode: never reach for the network")
        self.review = QCheckBox("Review each plan before it runs")
        self.api = ApiServerBox()
        self.server = ControllerServerBox(self.controller, self.edited)
        self.inference = InferenceBox()
        self.home = QLineEdit()
        self.home_button = QPushButton("Choose…")
        self.home_button.clicked.connect(self.choose_home)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self.show_settings(self.settings))
        for widget, name, description in (
                (self.controller, "Controller model", "a models.lock name, a GGUF file or the http:// address of "
                 "an OpenAI-compatible server; empty picks the best installed one for this computer"),
                (self.controller_button, "Choose controller GGUF file", ""),
                (self.threads, "Threads", "how many CPU threads llama.cpp uses; automatic by default"),
                (self.n_ctx, "Context size in tokens", ""),
                (self.gpu_layers, "GPU layers", "how many of the controller's layers run on the GPU"),
                (self.memory, "Memory budget", "loaded models stay under it; the least recently used unload first"),
                (self.results_cache, "Results cache", "task results kept for reuse when a request runs again; "
                 "the least recently used go first; 0 turns it off"),
                (self.offline, "Offline mode", "never reach for the network"),
                (self.review, "Review each plan before it runs", ""),
                (self.home, "Data folder", "where conversations, runs and settings are kept"),
                (self.home_button, "Choose data folder", ""),
                (self.save_button, "Save settings", ""), (self.revert_button, "Revert settings",
                                                          "go back to the saved settings")):
            describe(widget, name, description)
        self._layout()
        self.show_settings(settings)

    def _layout(self) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        for spin in (self.threads, self.n_ctx, self.gpu_layers, self.memory, self.results_cache):
            spin.setMinimumWidth(260)
            spin.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        form.addRow("Controller (GGUF or server URL)", _row(self.controller, self.controller_button))
        form.addRow("Controller server", self.server)
        form.addRow("Threads", self.threads)
        form.addRow("Context size (tokens)", self.n_ctx)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Memory budget", self.memory)
        form.addRow("Results cache", self.results_cache)
        form.addRow("", self.offline)
        form.addRow("", self.review)
        form.addRow("Data folder", _row(self.home, self.home_button))
        form.addRow("Where experts run", self.inference)
        form.addRow("Local API server", self.api)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        panel = QWidget()
        panel.setMaximumWidth(780)
        inner = QVBoxLayout(panel)
        title = QLabel("<b>Settings</b> — saved in the data folder's settings.json; "
                       "the next request uses them.")
        title.setWordWrap(True)
        inner.addWidget(title)
        inner.addLayout(form)
        inner.addWidget(self.status)
        inner.addLayout(buttons)
        self.sections = QVBoxLayout()
        inner.addLayout(self.sections)
        row = QHBoxLayout()
        row.addWidget(panel, 1)
        row.addStretch(0)
        page = QWidget()
        box = QVBoxLayout(page)
        box.addLayout(row)
        box.addStretch(1)
        # The form is taller than a small laptop screen: it scrolls, so it never sets the
        # window's minimum size (a focused field is scrolled into view by QScrollArea).
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.NoFrame)
        scroll.setWidget(page)
        describe(scroll, "Settings form", "scrolls when the window is small")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def add_section(self, widget: QWidget) -> None:
        """A group the window adds below the form (e.g. Appearance, which applies at once)."""
        self.sections.addWidget(widget)

    def show_settings(self, s: Settings) -> None:
        self.controller.setText(s.controller)
        self.threads.setValue(s.n_threads)
        self.n_ctx.setValue(s.n_ctx)
        self.gpu_layers.setValue(s.n_gpu_layers)
        self.memory.setValue(s.memory_budget_mb)
        self.results_cache.setValue(s.results_cache_mb)
        self.offline.setChecked(s.offline)
        self.review.setChecked(s.review_plan)
        self.api.load(s)
        self.server.load(s)
        self.inference.load(s)
        self.home.setText(str(s.home))
        self.status.setText("")

    def choose_controller(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Controller model", "", "GGUF models (*.gguf)")
        if path:
            self.controller.setText(path)

    def choose_home(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data folder", self.home.text())
        if path:
            self.home.setText(path)

    def edited(self) -> Settings:
        return self.settings.with_(
            controller=self.controller.text().strip(), n_threads=self.threads.value(),
            n_ctx=self.n_ctx.value(), n_gpu_layers=self.gpu_layers.value(),
            memory_budget_mb=self.memory.value(), offline=self.offline.isChecked(),
            results_cache_mb=self.results_cache.value(),
            review_plan=self.review.isChecked(), home=Path(self.home.text().strip() or self.settings.home),
            **self.api.values(), **self.server.values(), **self.inference.values())

    def problems(self, s: Settings) -> list[str]:
        out = []
        try:
            check_controller(s)
        except HgptError as exc:
            out.append(str(exc))
        try:
            ServeConfig(port=s.api_port, api_key=s.api_key).check()
        except HgptError as exc:
            out.append(str(exc))
        try:
            s.home.mkdir(parents=True, exist_ok=True)
            probe = s.home / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            out.append(f"the data folder {s.home} is not writable ({exc.strerror}); choose another")
        return out

    def save(self) -> None:
        new = self.edited()
        problems = self.problems(new)
        if problems:
            self._say("\n".join(problems), "error")
            return
        new.save()
        if new.home != self.settings.home:
            save_home(new.home)
        self.settings = new
        note = (" HGPT_HOME is set in the environment, so it overrides the data folder at the next start."
                if home_is_forced() else "")
        self._say("Saved. The next request uses these settings." + note, "done")
        self.saved.emit(new)

    def _say(self, text: str, kind: str) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {STATUS_COLOURS[kind]}")


def _row(*widgets) -> QWidget:
    w = QWidget()
    row = QHBoxLayout(w)
    row.setContentsMargins(0, 0, 0, 0)
    for i, x in enumerate(widgets):
        row.addWidget(x, 1 if i == 0 else 0)
    return w


class ApiServerBox(QWidget):
    """The local API server (``hgpt serve`` inside the window): on/off and port, saved with
    the other settings; the window starts or stops it on Save and says how it went here."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.enabled = QCheckBox("Serve this engine to programs on this computer (127.0.0.1): "
                                 "OpenAI /v1, HuggingGPT /hugginggpt, MCP /mcp")
        self.port = _spin(1024, 65535)
        self.port.setPrefix("port ")
        self.key = QLineEdit(placeholderText="API key programs must send (optional, 16 characters or more)",
                             echoMode=QLineEdit.Password)
        describe(self.key, "Local API key", "programs must send it as a bearer token; kept in the OS keyring "
                 "where there is one; empty: any program on this computer may call the API")
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(_row(self.enabled, self.port))
        box.addWidget(self.key)
        box.addWidget(self.state)

    def load(self, s: Settings) -> None:
        self.enabled.setChecked(s.api_server)
        self.port.setValue(s.api_port)
        self.key.setText(s.api_key)

    def values(self) -> dict:
        return {"api_server": self.enabled.isChecked(), "api_port": self.port.value(),
                "api_key": self.key.text().strip()}

    def say(self, text: str, kind: str = "done") -> None:
        self.state.setText(text)
        self.state.setStyleSheet(f"color: {STATUS_COLOURS[kind]}")
