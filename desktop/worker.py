"""Runs an engine generator off the UI thread and hands its events over as signals.

Like napari's generator workers: ``event`` per yielded item, ``failed`` for an
exception, ``finished`` at the end; ``stop()`` sets the engine's cancel token,
which the engine checks between steps.

``ReviewBridge`` carries plan review across threads: the engine calls its
``callback`` in the worker thread, which emits ``requested`` to the window and
waits until the window calls ``answer`` (or the run is stopped, which declines).
"""

from __future__ import annotations

import threading

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

    def wait(self, ms: int = 30_000) -> bool:
        return self.thread.wait(ms)

    def _work(self) -> None:
        try:
            for item in self._start_run(self.cancel):
                self.event.emit(item)
        except Exception as exc:  # shown as a banner, never a crash
            self.failed.emit(str(exc) or type(exc).__name__)
        finally:
            self.finished.emit()


class ReviewBridge(QObject):
    requested = Signal(object, list)  # plan, problems

    def __init__(self, cancel: CancelToken):
        super().__init__()
        self.cancel = cancel
        self._decided = threading.Event()
        self._decision = None

    def callback(self, plan, problems):
        """Called by the engine in the worker thread; blocks until the window answers."""
        self._decided.clear()
        self._decision = None
        self.requested.emit(plan, list(problems))
        while not self._decided.wait(0.05):
            if self.cancel.cancelled:
                return None
        return self._decision

    def answer(self, decision) -> None:
        """From the window: a ``ReviewedPlan`` to run, or None to stop."""
        self._decision = decision
        self._decided.set()
