"""Starting the desktop app: the window first, the engine after.

``main`` creates the ``QApplication`` and the main window and shows it before any
heavy library (torch, transformers, llama_cpp) is imported; once the window has
painted, a background thread warms the engine up (controller weights, expert
registry), so the first request starts sooner. ``HGPT_NO_WARMUP=1`` skips that.

Before the ``QApplication`` is made, ``desktop.syslibs`` checks that Qt's xcb plugin can
load (when the window would use it): a missing system library is reported in one line
with the command that installs it, instead of Qt's abort. ``HGPT_EXIT_AFTER_PAINT=1``
prints ``hgpt-first-paint`` after the window's first paint and quits (the Xvfb test).
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from .qt_main import MainWindow
from .syslibs import window_problem
from .worker import Job

ChatWindow = MainWindow  # the name the first version of the window had


def main(argv=None) -> int:
    if QApplication.instance() is None and (problem := window_problem()):
        print(problem, file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(argv or sys.argv)
    app.setApplicationName("hgpt")
    app.setStyle("Fusion")  # the same look on every OS; the window's theme sets its palette
    app.aboutToQuit.connect(Job.wait_all)
    window = MainWindow()
    if os.environ.get("HGPT_NO_WARMUP", "") in ("", "0"):
        window.first_painted.connect(lambda: QTimer.singleShot(200, window.host.start_warm_up))
    if os.environ.get("HGPT_EXIT_AFTER_PAINT") == "1":
        window.first_painted.connect(lambda: (print("hgpt-first-paint", flush=True), app.quit()))
    window.show()
    code = app.exec()
    Job.wait_all()  # a job started as the loop ended (the welcome page's facts) finishes first
    return code
