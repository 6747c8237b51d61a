"""Entry point of the packaged ``hgpt-desktop`` window.

The ``QApplication`` is made here, before ``desktop.app.main`` (which reuses an
existing instance), so the window gets the bundled icon and the desktop-file name
that lets a Wayland or X11 shell match it to ``hgpt.desktop``. Before that, the same
check as ``desktop.app.main`` (``desktop.syslibs``): when Qt's xcb plugin cannot load
for a missing system library, one line names it and the install command, instead of
Qt's abort.

``HGPT_STARTUP_PROBE=1`` makes the process print ``hgpt-window-shown`` as soon as
its first top-level window is visible and then quit: ``scripts/bench_bundle`` and
``installers/smoke_test.sh`` use it to measure and check the first window. With
``HGPT_STARTUP_SHOT=FILE.png`` as well, it first waits a moment for the window to
paint and saves what the screen shows of it (the X server's pixels under Xvfb).
"""

from __future__ import annotations

import os
import sys

import frozen_env


def _application(base):
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("hgpt")
    app.setDesktopFileName("hgpt")
    icon = (base / "icons" / "hgpt-256.png") if base else None
    if icon and icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def _save_shot(app, window, path: str) -> None:
    screen = window.screen() or app.primaryScreen()
    pixels = screen.grabWindow(0, window.x(), window.y(), window.width(), window.height())
    if not pixels.save(path):
        print(f"hgpt-desktop: could not save the screenshot to {path}", file=sys.stderr)
    app.quit()


def _probe_first_window(app) -> None:
    from PySide6.QtCore import QTimer

    timer = QTimer(app)
    shot = os.environ.get("HGPT_STARTUP_SHOT")

    def check() -> None:
        shown = [w for w in app.topLevelWidgets() if w.isVisible() and w.isWindow()]
        if shown:
            timer.stop()
            print(f"hgpt-window-shown {shown[0].windowTitle()!r}", flush=True)
            if shot:
                QTimer.singleShot(1500, lambda: _save_shot(app, shown[0], shot))
            else:
                QTimer.singleShot(0, app.quit)

    timer.timeout.connect(check)
    timer.start(5)


def main() -> int:
    base = frozen_env.prepare()
    from desktop.syslibs import window_problem

    problem = window_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = _application(base)
    if os.environ.get("HGPT_STARTUP_PROBE") == "1":
        _probe_first_window(app)
    from desktop.app import main as desktop_main

    return desktop_main() or 0


if __name__ == "__main__":
    sys.exit(main())
