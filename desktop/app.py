"""The main window: a chat that runs requests through the engine.

The window appears before any heavy library is imported: the engine (and with it
llama.cpp, torch) loads on the first request, in the worker thread.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QPlainTextEdit,
    QPushButton, QTextBrowser, QVBoxLayout, QWidget,
)

from engine import events as ev

from .worker import RunWorker


class ChatWindow(QMainWindow):
    def __init__(self, engine_factory=None):
        super().__init__()
        self.setWindowTitle("hgpt")
        self.resize(900, 700)
        self._engine_factory = engine_factory or _default_engine
        self._engine = None
        self.attachments: list[str] = []
        self.worker: RunWorker | None = None
        self._answer = ""
        self._build()

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        self.transcript = QTextBrowser(openExternalLinks=False)
        self.transcript.setOpenLinks(False)
        self.input = QPlainTextEdit(placeholderText="Ask something… (Ctrl+Enter to send)")
        self.input.setMaximumHeight(90)
        self.attach_label = QLabel("")
        self.attach_button = QPushButton("Attach…")
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop", enabled=False)
        self.attach_button.clicked.connect(self.choose_attachments)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.send)
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=self.stop)
        row = QHBoxLayout()
        for w in (self.attach_button, self.attach_label):
            row.addWidget(w)
        row.addStretch(1)
        row.addWidget(self.stop_button)
        row.addWidget(self.send_button)
        box = QVBoxLayout()
        box.addWidget(self.transcript, 1)
        box.addWidget(self.input)
        box.addLayout(row)
        central = QWidget()
        central.setLayout(box)
        self.setCentralWidget(central)

    # -- actions ----------------------------------------------------------------------
    def choose_attachments(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Attach files", "",
                                                "Images and audio (*.png *.jpg *.jpeg *.bmp *.webp *.wav *.flac *.mp3 *.ogg)")
        self.add_attachments(files)

    def add_attachments(self, files) -> None:
        self.attachments += [str(f) for f in files]
        self.attach_label.setText(", ".join(Path(f).name for f in self.attachments))

    def send(self) -> None:
        request = self.input.toPlainText().strip()
        if not request or self.worker is not None:
            return
        files = list(self.attachments)
        self._append(f"<p><b>You:</b> {html.escape(request)}"
                     + (f"<br><i>{html.escape(', '.join(Path(f).name for f in files))}</i>" if files else "") + "</p>")
        self.input.clear()
        self.attachments = []
        self.attach_label.setText("")
        self._answer = ""
        self.worker = RunWorker(lambda cancel: self.engine.run(request, files, cancel=cancel))
        self.worker.event.connect(self.on_event)
        self.worker.failed.connect(self.on_failed)
        self.worker.finished.connect(self.on_finished)
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    @property
    def engine(self):
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine

    # -- engine events ------------------------------------------------------------------
    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.PlanReady):
            steps = "".join(f"<li>{html.escape(t['task'])}</li>" for t in event.tasks) or "<li>answer directly</li>"
            self._append(f"<p><small>Plan:</small><ol>{steps}</ol></p>")
        elif isinstance(event, ev.ModelSelected):
            self._append(f"<p><small>[{event.task_id}] {html.escape(event.task)} → "
                         f"<b>{html.escape(event.model_id)}</b>: {html.escape(event.reason)}</small></p>")
        elif isinstance(event, ev.TaskFinished):
            files = "".join(f'<br><a href="{Path(f).as_uri()}">{html.escape(f)}</a>' for f in event.files)
            self._append(f"<p><small>[{event.task_id}] done in {event.seconds:.1f} s: "
                         f"{html.escape(event.text[:200])}</small>{files}</p>")
        elif isinstance(event, (ev.TaskFailed, ev.TaskSkipped)):
            why = getattr(event, "error", None) or getattr(event, "reason", "")
            self._append(f"<p style='color:#b00'><small>[{event.task_id}] {html.escape(event.task)}: "
                         f"{html.escape(why)}</small></p>")
        elif isinstance(event, ev.Token):
            self._answer += event.text
        elif isinstance(event, ev.AnswerDone):
            self._append(f"<p><b>hgpt:</b> {html.escape(event.text).replace(chr(10), '<br>')}</p>")
        elif isinstance(event, ev.RunFailed):
            self.on_failed(event.error)
        elif isinstance(event, ev.RunCancelled):
            self._append("<p><i>Stopped.</i></p>")

    def on_failed(self, message: str) -> None:
        self._append(f"<p style='color:#b00'><b>Error:</b> {html.escape(message)}</p>")

    def on_finished(self) -> None:
        self.worker = None
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _append(self, fragment: str) -> None:
        self.transcript.append(fragment)


def _default_engine():
    from engine.pipeline import Engine

    return Engine()


def main(argv=None) -> int:
    app = QApplication.instance() or QApplication(argv or sys.argv)
    window = ChatWindow()
    window.show()
    return app.exec()
