"""Runs an engine generator off the UI thread and hands its events over as signals.

Like napari's generator workers: ``event`` per yielded item, ``failed`` for an
exception, ``finished`` at the end; ``stop()`` sets the engine's cancel token,
which the engine checks between steps (and the controller between tokens).

Plan review is a question the engine asks through its stream (``ReviewRequested``):
the worker emits it, waits for the window's ``answer`` — a plan to run, or None —
and sends that back into the generator. A pre-flight that asks (``PreflightReady``
with ``asks``: models to download) waits the same way for "fetch" or "run".
``stop()`` answers None, so a run waiting for either stops at once.
"""

from __future__ import annotations

import queue

from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine import CancelToken, events as ev


class RunWorker(QObject):
    event = Signal(object)
    failed = Signal(str)
    finished = Signal()
    # the live ones: a worker stays referenced until its thread has ended, so a view may drop it
    # at ``finished`` (its thread is still quitting then; a QThread freed while it runs ends the process)
    running: set = set()

    def __init__(self, start_run, cancel: CancelToken | None = None):
        """``start_run(cancel)`` returns the engine's event generator."""
        super().__init__()
        self._start_run = start_run
        self.cancel = cancel or CancelToken()
        self._answers: queue.Queue = queue.Queue()
        self.thread = QThread()
        self.thread.setObjectName("hgpt-run")
        self.moveToThread(self.thread)
        self.thread.started.connect(self._work)
        self.finished.connect(self.thread.quit)
        self.thread.finished.connect(lambda: RunWorker.running.discard(self))

    def start(self) -> None:
        RunWorker.running.add(self)
        self.thread.start()

    def stop(self) -> None:
        self.cancel.cancel()
        self._answers.put(None)

    def answer(self, decision) -> None:
        """From the window: the reviewed plan to run, or None to stop."""
        self._answers.put(decision)

    def wait(self, ms: int = 30_000) -> bool:
        return self.thread.wait(ms)

    def _work(self) -> None:
        try:
            stream = self._start_run(self.cancel)
            reply = None
            while True:
                try:
                    item = stream.send(reply)
                except StopIteration:
                    break
                reply = None
                self.event.emit(item)
                if isinstance(item, ev.ReviewRequested) or getattr(item, "asks", False):
                    reply = self._answers.get()  # a reviewed plan; or, for a pre-flight, "fetch" / "run"
        except Exception as exc:  # shown as a banner, never a crash
            self.failed.emit(str(exc) or type(exc).__name__)
        finally:
            self.finished.emit()


class _Relay(QObject):
    """Lives on the UI thread as a child of a view: a job's results reach the view through
    it, and Qt drops the queued call when the view (and so the relay) is gone."""

    def __init__(self, owner: QObject, done, failed):
        super().__init__(owner)
        self._done, self._failed = done, failed

    @Slot(object)
    def on_done(self, result) -> None:
        self._done(result)
        self.deleteLater()

    @Slot(str)
    def on_failed(self, message: str) -> None:
        if self._failed is not None:
            self._failed(message)
        self.deleteLater()


class Job(QObject):
    """A function run once off the UI thread: ``done(result)`` or ``failed(message)``.

    For the short background chores of a view (opening the catalog, hashing the
    model files, a pull): like ``RunWorker`` its signals arrive on the UI thread,
    and the view keeps the job until it ends (``Job.running`` holds the live ones)."""

    done = Signal(object)
    failed = Signal(str)
    running: set = set()

    def __init__(self, fn, name: str = "hgpt-job"):
        super().__init__()
        self._fn = fn
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.moveToThread(self.thread)
        self.thread.started.connect(self._work)
        self.thread.finished.connect(lambda: Job.running.discard(self))

    def then(self, owner: QObject, done, failed=None) -> "Job":
        """Call ``done(result)`` / ``failed(message)`` on the UI thread, for as long as
        ``owner`` lives: a view closed while its job runs hears nothing (no call into a
        deleted widget, no signal emitted from a deleted object)."""
        relay = _Relay(owner, done, failed)
        self.done.connect(relay.on_done)
        self.failed.connect(relay.on_failed)
        return self

    def start(self) -> "Job":
        Job.running.add(self)
        self.thread.start()
        return self

    def wait(self, ms: int = 30_000) -> bool:
        return self.thread.wait(ms)

    @classmethod
    def wait_all(cls, ms: int = 30_000) -> None:
        """Before the application quits: let the jobs still running end (a thread
        destroyed while it runs aborts the process)."""
        for job in list(cls.running):
            job.wait(ms)

    def _work(self) -> None:
        try:
            self.done.emit(self._fn())
        except Exception as exc:  # the view says it in place
            self.failed.emit(str(exc) or type(exc).__name__)
        finally:
            self.thread.quit()
