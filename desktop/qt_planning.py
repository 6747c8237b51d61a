"""Settings' Planning section: whose plans run, and the measurement that decides it.

The engine lets a controller write the plans itself only once it has been measured to
plan better than the rails (``engine.plan.calibration``, ``hgpt calibrate``). This box
shows each measured controller's verdict, and "Measure planning" runs the measurement for
the controller in use off the UI thread (a ``RunWorker`` over ``Engine.calibrate``), with
its progress; Stop cancels it between requests and nothing is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from engine import PlanningVerdict as Verdict, planning_verdicts as load_verdicts

from .qt_a11y import describe
from .worker import RunWorker

EXPLAINED = ("The rails (task ranking and typed steps) write each plan, with the controller choosing inside "
             "each step. A bigger controller you bring may plan better: measure it on 80 labelled requests "
             "(a few minutes on a fast machine), and its own plans run from then on if they were right "
             "clearly more often.")


class PlanningBox(QGroupBox):
    def __init__(self, start_measure: Callable, planning_file: Callable[[], Path], parent=None):
        """``start_measure(cancel)`` gives the engine's calibration stream; ``planning_file()``
        where the verdicts are kept (the data folder can move)."""
        super().__init__("Planning", parent)
        self._start, self._file = start_measure, planning_file
        self.worker: RunWorker | None = None
        self.won = 0  # requests the controller's plan won in the measurement under way
        about = QLabel(EXPLAINED)
        about.setWordWrap(True)
        self.verdicts = QLabel("")
        self.verdicts.setWordWrap(True)
        self.verdicts.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.progress = QLabel("")
        self.button = QPushButton("Measure planning")
        self.button.clicked.connect(self.toggle)
        describe(self.verdicts, "Measured controllers", "whose plans run for each controller measured")
        describe(self.progress, "Planning measurement progress", "")
        describe(self.button, "Measure planning", "measure whether the controller in use plans better than the rails")
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.button)
        box = QVBoxLayout(self)
        box.addWidget(about)
        box.addWidget(self.verdicts)
        box.addLayout(row)
        self.refresh()

    def refresh(self) -> None:
        verdicts = load_verdicts(self._file())
        lines = [f"{v.summary()} (measured {v.measured})." for v in verdicts.values()]
        self.verdicts.setText("\n".join(lines) or "No controller measured yet: the rails' plan runs "
                                                 "whenever it is usable.")

    def toggle(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.progress.setText("Stopping after this request…")
            return
        self.won = 0
        self.worker = RunWorker(self._start)
        self.worker.event.connect(self._on_event)
        self.worker.failed.connect(self._failed)
        self.worker.finished.connect(self._finished)
        self.button.setText("Stop")
        self.progress.setText("Loading the controller…")
        self.worker.start()

    def shutdown(self) -> None:
        """Stop a measurement under way and wait for it (the window is closing)."""
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait(30_000)

    def _on_event(self, event) -> None:
        if isinstance(event, Verdict):
            self.progress.setText("Measured: " + ("its own plans run from now on." if event.preferred
                                                  else "the rails' plan stands."))
            return
        self.won += event.preferred_right and not event.rails_right
        self.progress.setText(f"Planned {event.index} of {event.total} labelled requests; the controller's plan "
                              f"was right where the rails' was wrong on {self.won} so far.")

    def _failed(self, message: str) -> None:
        stopped = self.worker is not None and self.worker.cancel.cancelled
        self.progress.setText("Stopped: nothing was kept." if stopped else f"Not measured: {message}")

    def _finished(self) -> None:
        self.worker = None  # RunWorker.running keeps it until its thread has ended
        self.button.setText("Measure planning")
        self.refresh()
