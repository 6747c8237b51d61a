"""``HGPT_NO_SKIPS=1`` (set by ``scripts/test``) turns every skip into a failure: a test
skipped inside, by a marker or by a fixture fails, a module skipped while it is imported
fails the session, the skips are listed in one block at the end, and pytest exits
non-zero. An expected failure (xfail) is not a skip. Each case runs pytest in a
subprocess with this suite's conftest as a plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SKIPPING = '''
import pytest

def test_passes():
    pass

def test_skips_inside():
    pytest.skip("inside reason")

@pytest.mark.skipif(True, reason="marker reason")
def test_skipped_by_a_marker():
    pass

@pytest.fixture
def needs_something():
    pytest.skip("fixture reason")

def test_skipped_by_a_fixture(needs_something):
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_to_fail():
    assert False
'''
SKIPPED_MODULE = '''
import pytest
pytest.importorskip("hgpt_no_such_module")

def test_never_collected():
    pass
'''
PASSING = '''
def test_passes():
    pass
'''


def run_pytest(tmp_path: Path, no_skips: str, **files: str) -> subprocess.CompletedProcess:
    for name, source in files.items():
        (tmp_path / f"test_{name}.py").write_text(source)
    env = {**os.environ, "HGPT_NO_SKIPS": no_skips, "PYTHONPATH": str(TESTS)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_with_no_skips_every_skip_fails_and_is_listed(tmp_path):
    done = run_pytest(tmp_path, "1", skipping=SKIPPING, module=SKIPPED_MODULE)
    out = done.stdout
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, out
    block = out[out.index("4 skipped, and HGPT_NO_SKIPS=1 makes a skip a failure"):]
    for nodeid, reason in [("test_skipping.py::test_skips_inside", "inside reason"),
                           ("test_skipping.py::test_skipped_by_a_marker", "marker reason"),
                           ("test_skipping.py::test_skipped_by_a_fixture", "fixture reason"),
                           ("test_module.py", "could not import 'hgpt_no_such_module'")]:
        assert f"SKIPPED {nodeid}: {reason}" in block, block
    assert "test_expected_to_fail" not in block  # an xfail is not a skip
    assert "1 failed, 1 passed" in out and "2 errors" in out and "1 xfailed" in out, out


def test_a_skipped_module_alone_still_fails_the_session(tmp_path):
    """Nothing collected would be exit 5, which scripts/test takes as "no tests ran"."""
    done = run_pytest(tmp_path, "1", module=SKIPPED_MODULE)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    assert "SKIPPED test_module.py: could not import" in done.stdout


def test_without_it_skips_are_skips(tmp_path):
    done = run_pytest(tmp_path, "0", skipping=SKIPPING, module=SKIPPED_MODULE)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert "1 passed, 4 skipped, 1 xfailed" in done.stdout and "makes a skip a failure" not in done.stdout


def test_a_run_without_skips_passes(tmp_path):
    done = run_pytest(tmp_path, "1", passing=PASSING)
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    assert "makes a skip a failure" not in done.stdout


def test_scripts_test_sets_it_unless_told_otherwise():
    script = (TESTS.parent / "scripts" / "test").read_text()
    assert "export HGPT_NO_SKIPS=${HGPT_NO_SKIPS:-1}" in script
