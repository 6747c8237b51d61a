"""The memory budget: LRU unloading with real (tiny) experts that really allocate
their footprint, physical memory, and the peak RSS that ``hgpt ask --json`` reports."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ExpertError
from engine.experts.base import Expert, ExpertContext, ExpertResult
from engine.memory import MemoryManager, budget_mb, estimate_mb, parse_meminfo, peak_rss_mb, total_memory_mb

ROOT = Path(__file__).resolve().parents[1]


class Sized(Expert):
    """An expert whose weights are ``mb`` MB of bytes, allocated in setup."""

    tasks = ("text-generation",)

    def __init__(self, model_id: str, mb: float, fail: bool = False):
        super().__init__()
        self.model_id, self.mb, self.fail = model_id, mb, fail
        self.weights: bytes | None = None
        self.loads = 0

    def footprint_mb(self) -> float:
        return self.mb

    def setup(self) -> None:
        if self.fail:
            raise ExpertError(f"{self.model_id}: weights are corrupt")
        self.weights = b"\x01" * int(self.mb * 2**20)
        self.loads += 1

    def teardown(self) -> None:
        self.weights = None

    def run(self, task, args, ctx: ExpertContext) -> ExpertResult:
        return ExpertResult(text=f"{self.model_id}:{len(self.weights)}")


def test_least_recently_used_experts_are_unloaded_to_fit():
    a, b, c = Sized("a", 2), Sized("b", 2), Sized("c", 3)
    memory = MemoryManager(budget_mb=5)
    for expert in (a, b):
        with memory.use(expert):
            pass
    assert memory.loaded() == ["a", "b"] and memory.used_mb == 4
    with memory.use(c):  # 4 + 3 > 5: the least recently used (a) goes
        pass
    assert (a.loaded, b.loaded, c.loaded) == (False, True, True) and a.weights is None
    with memory.use(b):  # b becomes the most recent
        pass
    with memory.use(a):  # 5 + 2 > 5: c is now the least recently used
        pass
    assert memory.evicted == ["a", "c"]
    assert memory.loaded() == ["b", "a"] and memory.used_mb == 4
    assert (a.loads, b.loads, c.loads) == (2, 1, 1)


def test_an_expert_in_use_is_never_unloaded(caplog):
    a, b = Sized("a", 3), Sized("b", 3)
    memory = MemoryManager(budget_mb=5)
    with memory.use(a), caplog.at_level(logging.WARNING, logger="engine.memory"):
        with memory.use(b):
            assert a.loaded and b.loaded
    assert "over the memory budget" in caplog.text
    assert memory.evicted == []
    with memory.use(Sized("c", 1)):  # now a and b are idle: the oldest goes
        pass
    assert memory.evicted == ["a"]


def test_an_expert_bigger_than_the_budget_is_refused_with_the_setting_to_change():
    with pytest.raises(ExpertError, match="memory_budget_mb"):
        MemoryManager(budget_mb=5).acquire(Sized("huge", 6))


def test_a_failed_load_releases_its_reservation():
    memory = MemoryManager(budget_mb=5)
    with pytest.raises(ExpertError, match="corrupt"):
        with memory.use(Sized("bad", 4, fail=True)):
            pass
    assert memory.used_mb == 0 and memory.loaded() == []


def test_experts_unloaded_elsewhere_are_forgotten():
    a = Sized("a", 3)
    memory = MemoryManager(budget_mb=5)
    with memory.use(a):
        pass
    a.unload()  # e.g. registry.unload_all()
    with memory.use(Sized("b", 4)):
        pass
    assert memory.evicted == [] and memory.loaded() == ["b"]


def test_parallel_tasks_through_the_executor_stay_within_the_budget(tmp_path):
    from engine.execute import Executor
    from engine.plan.graph import Task
    from engine.select import Selection

    experts = [Sized(f"m{i}", 2) for i in range(4)]
    tasks = [Task(i, "text-generation", [-1], {"text": "hi"}) for i in range(4)]
    selections = {i: Selection(i, e.model_id, "test", e) for i, e in enumerate(experts)}
    memory = MemoryManager(budget_mb=4)
    peak = []
    original = memory._reserve

    def watched(expert):
        slot = original(expert)
        peak.append(memory.used_mb)
        return slot

    memory._reserve = watched
    executor = Executor(selections, run_id="r", run_dir=tmp_path, attachments={}, max_workers=2, memory=memory)
    events = list(executor.run(tasks))
    done = [e for e in events if e.kind == "TaskFinished"]
    assert sorted(e.text for e in done) == [f"m{i}:{2 * 2**20}" for i in range(4)]
    assert max(peak) <= 4 and len(memory.evicted) >= 2


def test_footprint_falls_back_to_the_sizes_pinned_in_models_lock(monkeypatch):
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(ROOT / "models.lock"))

    class Whisper(Sized):
        def footprint_mb(self) -> float:
            return 0.0

    assert estimate_mb(Whisper("openai/whisper-tiny.en", 0)) == pytest.approx(74.5, abs=1)
    assert estimate_mb(Whisper("not-in-the-lock", 0)) == 0.0


def test_physical_memory_and_the_default_budget():
    assert parse_meminfo("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24000.0
    assert budget_mb(0, total=1000) == 600 and budget_mb(512, total=1000) == 512
    total = total_memory_mb()
    assert total > 256
    if sys.platform.startswith("linux"):
        meminfo = parse_meminfo(Path("/proc/meminfo").read_text())
        assert 0 < total <= meminfo


PEAK = """
import json, sys
from engine.memory import peak_rss_mb, current_rss_mb
base = peak_rss_mb()
block = b"\\x01" * (300 * 2**20)
with open("/proc/self/status") as f:
    hwm = next((int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM:")), None)
print(json.dumps({"base": base, "peak": peak_rss_mb(), "now": current_rss_mb(), "hwm": hwm}))
"""


def test_peak_rss_counts_what_the_process_really_touched():
    out = subprocess.run([sys.executable, "-c", PEAK], cwd=ROOT, capture_output=True, text=True, timeout=60)
    got = json.loads(out.stdout)
    assert got["peak"] - got["base"] >= 290
    assert got["peak"] < got["base"] + 400
    assert got["now"] >= 300
    if got["hwm"] is not None:  # Linux: the kernel's high-water mark, not the parent's ru_maxrss
        assert abs(got["peak"] - got["hwm"]) < 5


def test_run_records_carry_the_peak(tmp_path):
    from engine.record import peak_rss_mb as recorded

    assert recorded() == pytest.approx(peak_rss_mb(), rel=0.05)
