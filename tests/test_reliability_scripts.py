"""The reliability scripts keep working: the report runs its cases for real and prints
the table, and the load test judges a memory curve the way its doc says."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ["empty request", "audio given to an image task", "disk full while writing an artifact",
        "expert runs out of memory", "two engines at once on one data folder", "socket to the internet while offline"]


def _script(name: str):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(ROOT / "scripts" / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_the_report_runs_cases_and_prints_a_row_each(tmp_path):
    env = {**os.environ, "HGPT_HOME": str(tmp_path / "unused")}
    proc = subprocess.run([sys.executable, "scripts/reliability_report", "--only", ",".join(FAST)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ") and "input or fault" not in line]
    assert len(rows) == len(FAST)
    assert all(row.rstrip().endswith("| ✓  |") and "| none " in row for row in rows)
    assert f"{len(FAST)}/{len(FAST)} cases as expected; data lost in 0 case(s)" in proc.stdout


def test_the_report_refuses_an_unknown_case_name():
    proc = subprocess.run([sys.executable, "scripts/reliability_report", "--only", "no such case"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "unknown case(s) ['no such case']; see --list" in proc.stderr


def test_the_load_test_calls_a_plateau_bounded_and_a_leak_not():
    bounded = _script("load_test").bounded
    plateau = [(10, 1290.0), (15, 1330.0), (20, 1305.0), (25, 1350.0), (30, 1320.0), (35, 1340.0),
               (40, 1310.0), (45, 1360.0), (50, 1330.0)]
    ok, detail = bounded(plateau, 10, 100)
    assert ok and "+10 MB" in detail
    # measured before the prompt-cache fix (scripts/load_test, 50 requests): ~20 MB a request
    leak = [(10, 2330.0), (15, 2446.0), (20, 2551.0), (25, 2628.0), (30, 2733.0), (35, 2857.0),
            (40, 2951.0), (45, 3027.0), (50, 3108.0)]
    ok, detail = bounded(leak, 10, 100)
    assert not ok and "+480 MB" in detail and "trend +19.6" in detail
