"""Runs an engine generator off the UI thread and hands its events over as signals.

Like napari's generator workers: ``event`` per yielded item, ``failed`` for an
exception, ``finished`` at the end; ``stop()`` sets the engine's cancel token,
which the engine checks between steps.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal

from engine.cancel import CancelToken


class RunWorker(QObject):
    event = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, start_run, cancel: CancelToken | None = None):
        """``start_run(cancel)`` returns the engine's event generator."""
        super().__init__()
        self._start_run = start_run
        self.cancel = cancel or CancelToken()
        self.thread = QThread()
        self.thread.setObjectName("hgpt-run")
        self.moveToThread(self.thread)
        self.thread.started.connect(self._work)
        self.finished.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.cancel.cancel()

    def _work(self) -> None:
        try:
            for item in self._start_run(self.cancel):
                self.event.emit(item)
        except Exception as exc:  # shown as a banner, never a crash
            self.failed.emit(str(exc) or type(exc).__name__)
        finally:
            self.finished.emit()
