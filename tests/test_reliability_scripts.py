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


def test_the_load_test_calls_a_flat_curve_bounded_and_a_rising_one_not():
    bounded = _script("load_test").bounded
    flat = [(0, 70.0), (5, 2000.0), (10, 2100.0), (15, 2110.0), (50, 2150.0)]
    assert bounded(flat, 10, 150)[0]
    rising = [(0, 70.0), (10, 2100.0), (30, 2400.0), (50, 2700.0)]
    ok, detail = bounded(rising, 10, 150)
    assert not ok and "+600 MB" in detail and "+15.00 MB/request" in detail
