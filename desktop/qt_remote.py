"""Settings for remote parts: the controller server and where experts run.

``ControllerServerBox`` holds what a controller behind an OpenAI-compatible server
needs besides its URL (typed in the controller field above it): the model name and
the API key, and a "Test connection" button that asks the server (in a thread) and
says which models it lists, whether it takes a grammar, a JSON schema or neither,
and how long a short reply took. ``InferenceBox`` holds the inference mode — local,
hybrid (local first, the endpoint for what is not installed) or remote — with the
endpoint's URL and token. Keys and tokens are typed into password fields and saved by
``Settings.save`` (the OS keyring where there is one, else settings.json readable by
its owner only); they are never shown in a label or a log.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from engine import INFERENCE_MODES, Settings, probe_controller

from .qt_a11y import describe
from .qt_chat import STATUS_COLOURS
from .worker import Job

GRAMMAR_WORDS = {"gbnf": "takes a GBNF grammar (plans are constrained token by token)",
                 "json_schema": "takes a JSON schema (plans are constrained to valid JSON)",
                 "both": "takes a grammar and a JSON schema",
                 "off": "takes neither a grammar nor a schema (plans are parsed and repaired)"}
MODE_WORDS = {"local": "Local: only models on this computer",
              "hybrid": "Hybrid: local first, the endpoint for models not installed",
              "remote": "Remote: every expert at the endpoint"}


def _status(label: QLabel, text: str, kind: str) -> None:
    label.setText(text)
    label.setStyleSheet(f"color: {STATUS_COLOURS[kind]}")


class ControllerServerBox(QWidget):
    """Model name, API key and Test connection for a controller URL."""

    tested = Signal(object)  # the probe's dict, or an error message

    def __init__(self, controller_field: QLineEdit, edited, parent=None):
        """``controller_field`` holds the URL; ``edited()`` gives the settings being edited."""
        super().__init__(parent)
        self.controller_field, self._edited = controller_field, edited
        self.model = QLineEdit(placeholderText="model name (empty: the server's own)")
        self.key = QLineEdit(placeholderText="API key (if the server asks for one)", echoMode=QLineEdit.Password)
        self.test = QPushButton("Test connection")
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.state.setTextInteractionFlags(Qt.TextSelectableByMouse)
        describe(self.model, "Controller model name", "the model the server is asked for")
        describe(self.key, "Controller API key", "kept in the OS keyring where there is one")
        describe(self.test, "Test connection", "ask the controller server which models it has and what it accepts")
        describe(self.state, "Controller server status", "what Test connection found")
        self.test.clicked.connect(self.run_test)
        self.tested.connect(self._show)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.model, 1)
        row.addWidget(self.key, 1)
        row.addWidget(self.test)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(row)
        box.addWidget(self.state)
        controller_field.textChanged.connect(self._enable)
        self._enable(controller_field.text())

    def _enable(self, text: str) -> None:
        on = text.strip().startswith(("http://", "https://"))
        for w in (self.model, self.key, self.test):
            w.setEnabled(on)
        if not on:
            self.state.setText("")

    def load(self, s: Settings) -> None:
        self.model.setText(s.controller_model)
        self.key.setText(s.controller_api_key)
        self._enable(s.controller)

    def values(self) -> dict:
        return {"controller_model": self.model.text().strip(), "controller_api_key": self.key.text().strip()}

    def run_test(self) -> None:
        settings = self._edited()
        _status(self.state, f"Asking {settings.controller}…", "running")
        self.test.setEnabled(False)
        job = Job(lambda: probe_controller(settings), "hgpt-test-controller")
        job.then(self, self.tested.emit, self.tested.emit).start()

    def _show(self, found) -> None:
        self.test.setEnabled(True)
        if not isinstance(found, dict):
            _status(self.state, f"Not connected: {found}", "error")
            return
        models = ", ".join(found["models"][:5]) or "no model list"
        _status(self.state, f"Connected in {found['seconds']:.1f} s: {models}; the server "
                f"{GRAMMAR_WORDS.get(found['grammar'], found['grammar'])}.", "done")


class InferenceBox(QWidget):
    """Where experts run: the mode, and the endpoint's URL and token."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.mode = QComboBox()
        for mode in INFERENCE_MODES:
            self.mode.addItem(MODE_WORDS.get(mode, mode), mode)
        self.url = QLineEdit(placeholderText="endpoint URL (empty: Hugging Face Inference Providers); "
                             "another hgpt: http://host:8004")
        self.token = QLineEdit(placeholderText="token", echoMode=QLineEdit.Password)
        describe(self.mode, "Inference mode", "where the experts run: here, at an endpoint, or here first")
        describe(self.url, "Inference endpoint", "a server speaking the Hugging Face inference protocol")
        describe(self.token, "Inference endpoint token", "kept in the OS keyring where there is one")
        self.mode.currentIndexChanged.connect(lambda _: self._enable())
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.url, 2)
        row.addWidget(self.token, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.mode)
        box.addLayout(row)
        self._enable()

    def _enable(self) -> None:
        remote = self.mode.currentData() != "local"
        self.url.setEnabled(remote)
        self.token.setEnabled(remote)

    def load(self, s: Settings) -> None:
        index = self.mode.findData(s.inference_mode)
        self.mode.setCurrentIndex(max(0, index))
        self.url.setText(s.remote_url)
        self.token.setText(s.remote_token)
        self._enable()

    def values(self) -> dict:
        return {"inference_mode": self.mode.currentData() or "local", "remote_url": self.url.text().strip(),
                "remote_token": self.token.text().strip()}
