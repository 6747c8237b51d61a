"""Shared fixtures. Every test gets its own HGPT_HOME, so nothing touches the user's data.

With ``HGPT_NO_SKIPS=1`` (``scripts/test`` sets it unless told otherwise) a skipped test
is a failed one: everything the tests need is installed by ``scripts/setup --test``,
so a skip means a test CI is meant to run did not run. The skipped tests and their
reasons are listed in one block at the end and pytest exits non-zero.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def hgpt_home(tmp_path, monkeypatch):
    home = tmp_path / "hgpt-home"
    monkeypatch.setenv("HGPT_HOME", str(home))
    # the data-folder choice Settings remembers goes here, not into the user's own config
    monkeypatch.setenv("HGPT_CONFIG_DIR", str(tmp_path / "hgpt-config"))
    return home


@pytest.fixture(autouse=True)
def offline_mode_ends_with_its_test():
    """An Engine in offline mode sets the process's HF_* switches and keeps what they were
    to put back; a test ends with them put back, so the next test starts from the same
    environment whatever ran before it."""
    yield
    import sys

    offline = sys.modules.get("engine.offline")
    if offline is not None:
        offline.enforce(False)


@pytest.fixture
def settings(hgpt_home):
    from engine.settings import load_settings

    return load_settings(hgpt_home)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The data folder beside the project (always there in CI): missing is a failure."""
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} (the TaskBench and catalog samples) is not beside the project; "
                    "the tests that read it need it", pytrace=False)
    return SHARED


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, Path]:
    """scikit-image's sample photos saved as PNG files."""
    from PIL import Image
    from skimage import data as skimage_data

    folder = tmp_path_factory.mktemp("images")
    out = {}
    for name in ("astronaut", "chelsea", "coffee", "rocket", "page"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(skimage_data, name)()).save(path)
        out[name] = path
    return out


@pytest.fixture(scope="session")
def llm():
    """The real embedded controller (SmolLM2-135M through llama.cpp), loaded once."""
    from engine.controller.llama import LlamaController

    return LlamaController(n_ctx=4096, n_threads=2)


# -- HGPT_NO_SKIPS=1: a skip is a failure -------------------------------------------------------------
_skips: list[tuple[str, str]] = []  # (test or module id, reason)


def _no_skips() -> bool:
    return os.environ.get("HGPT_NO_SKIPS", "0") == "1"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        path, line, message = longrepr
        where = os.path.relpath(path) if os.path.isabs(path) else path
        return f"{message.removeprefix('Skipped: ')} ({where}:{line})"
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _no_skips():
        reason = _skip_reason(report)
        _skips.append((item.nodeid, reason))
        report.outcome = "failed"
        report.longrepr = f"skipped, and HGPT_NO_SKIPS=1 makes a skip a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A whole module skipped while it is imported (pytest.importorskip, pytest.skip(allow_module_level))
    # has no test to fail: it is recorded here and fails the session at the end.
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _no_skips():
        _skips.append((report.nodeid, _skip_reason(report)))


def pytest_sessionfinish(session, exitstatus):
    if _skips and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _skips:
        return
    terminalreporter.section(f"{len(_skips)} skipped, and HGPT_NO_SKIPS=1 makes a skip a failure",
                             sep="=", red=True, bold=True)
    for nodeid, reason in _skips:
        terminalreporter.line(f"SKIPPED {nodeid}: {reason}", red=True)
    terminalreporter.line("Install what is missing (scripts/setup --test), fix the test, or allow skips "
                          "for this run with HGPT_NO_SKIPS=0.")


@pytest.fixture
def make_window(qtbot, settings):
    """A main window over this test's HGPT_HOME with a scripted controller and the small
    experts of ``desktop_support`` (the desktop tests' fixture)."""
    from desktop_support import MeanColour, Sleeper, Tone, Upper, open_window, stop_windows

    made = []

    def make(replies=(), experts=None, **changes):
        window = open_window(qtbot, settings, replies, experts or [MeanColour(), Tone(), Upper(), Sleeper()], **changes)
        window.show()
        window.activateWindow()  # keyboard shortcuts go to the active window
        qtbot.waitUntil(window.isActiveWindow, timeout=2_000)
        made.append(window)
        return window

    yield make
    stop_windows(made)
