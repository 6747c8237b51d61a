"""The real window on a real (virtual) X server: ``hgpt-desktop`` through Qt's xcb plugin.

Every other window test runs on Qt's offscreen platform, which needs no system library;
this one starts the app as a user would, under Xvfb with ``QT_QPA_PLATFORM=xcb``, and
waits for the main window's first paint. It fails when a library the xcb plugin links
to is missing (the app then prints which, and the command that installs it).

Xvfb is a test tool (``scripts/setup --test`` and ``.ci/run`` install it as root). In CI
(``HGPT_CI=1``, set by ``.ci/run``, or ``CI``) a missing Xvfb fails the test instead of
skipping it.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("HGPT_CI") == "1" or os.environ.get("CI", "").lower() not in ("", "0", "false")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 test (Linux only)")


@pytest.fixture(scope="module")
def x_display():
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        message = "Xvfb is not installed: apt-get install xvfb xauth (scripts/setup --test does, as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    read, write = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number:
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=10)[1].decode()[-500:]}")
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def _desktop_command() -> list[str]:
    """The installed ``hgpt-desktop`` script beside this Python, else ``python -m desktop``."""
    script = Path(sys.executable).with_name("hgpt-desktop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop"]


def test_the_window_paints_through_the_xcb_plugin(x_display, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "HGPT_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_RUNTIME_DIR": str(tmp_path),
           "HGPT_NO_WARMUP": "1", "HGPT_EXIT_AFTER_PAINT": "1"}
    env.pop("WAYLAND_DISPLAY", None)
    start = time.monotonic()
    result = subprocess.run(_desktop_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 0 and "hgpt-first-paint" in result.stdout, (
        f"the window did not paint on Xvfb (exit {result.returncode}): {lines[-1] if lines else result.stdout[-300:]}")
    assert time.monotonic() - start < 180


def test_every_library_of_the_xcb_plugin_is_installed():
    """The check the app runs before QApplication: ldd on the plugin finds nothing missing."""
    from desktop import syslibs

    assert shutil.which("ldd"), "ldd is missing (Debian's libc-bin)"
    plugin = syslibs.xcb_plugin()
    assert plugin is not None and plugin.exists(), "PySide6's libqxcb.so was not found"
    assert syslibs.missing_libraries(plugin) == [], syslibs.window_problem({"QT_QPA_PLATFORM": "xcb"})
    assert syslibs.window_problem({"QT_QPA_PLATFORM": "xcb"}) is None
