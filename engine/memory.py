"""Memory: how much this machine has, a budget for loaded experts, and the peak RSS.

``MemoryManager`` keeps the experts it loads under a budget in MB
(``settings.memory_budget_mb``; 0 means 60 % of physical memory). Before an expert
loads, its footprint is estimated (``Expert.footprint_mb()``, its file sizes, or
failing that the sizes pinned in ``models.lock`` for its model id); if it does not
fit, idle experts are unloaded: first those the plans being run never use again (least
recently used first), then the one whose next use is farthest (``expect`` tells the
manager a plan's expert order; ``engine.schedule`` plans the same way before a run).
An expert larger than the whole budget is refused with a message saying which
setting to raise. Experts in use are never unloaded under a running task; if only
they remain, the load goes ahead over budget and a warning is logged (waiting could
deadlock a plan whose branches hold each other's memory).

The executor wraps each expert call in ``manager.use(expert)``. Loading happens
outside the manager's lock (a slot is reserved first), so a slow load does not
stall other tasks.

Physical memory is read without psutil: ``/proc/meminfo`` (and the cgroup limit, a
container's real ceiling) on Linux, ``sysctl hw.memsize`` on macOS,
``GlobalMemoryStatusEx`` on Windows. ``peak_rss_mb`` is the process's high-water
mark: on Linux the kernel's ``VmHWM``, because ``ru_maxrss`` survives ``exec`` and so
reports the parent's size for a child started from a big process; elsewhere
``ru_maxrss`` (bytes on macOS, KiB on the BSDs), and ``GetProcessMemoryInfo`` on
Windows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import ExpertError

log = logging.getLogger(__name__)
DEFAULT_SHARE = 0.6
MB = 2**20


# -- what the machine has ----------------------------------------------------------------
def parse_meminfo(text: str) -> float:
    """MemTotal of a /proc/meminfo text, in MB."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024
    raise ValueError("no MemTotal line")


def _cgroup_limit_mb() -> float | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        if value.isdigit() and int(value) < 2**60:
            return int(value) / MB
    return None


def _windows_total_mb() -> float:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
    return status.ullTotalPhys / MB


def total_memory_mb() -> float:
    """Physical memory available to this process, in MB (0.0 if it cannot be read)."""
    try:
        if sys.platform.startswith("linux"):
            total = parse_meminfo(Path("/proc/meminfo").read_text())
            limit = _cgroup_limit_mb()
            return min(total, limit) if limit else total
        if sys.platform == "darwin":
            out = subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True, timeout=5)
            return int(out.stdout.strip()) / MB
        if sys.platform == "win32":
            return _windows_total_mb()
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / MB
    except (OSError, ValueError, subprocess.SubprocessError, AttributeError):
        return 0.0


def budget_mb(configured: float, total: float | None = None) -> float:
    """The budget: the configured MB, or 60 % of physical memory when it is 0."""
    if configured and configured > 0:
        return float(configured)
    total = total_memory_mb() if total is None else total
    return DEFAULT_SHARE * total if total > 0 else float("inf")


# -- what this process uses ------------------------------------------------------------------
def _status_kib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _windows_rss_mb(peak: bool) -> float:
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                    ("PeakWorkingSetSize", ctypes.c_size_t), ("WorkingSetSize", ctypes.c_size_t),
                    ("QuotaPeakPagedPoolUsage", ctypes.c_size_t), ("QuotaPagedPoolUsage", ctypes.c_size_t),
                    ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t), ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
                    ("PagefileUsage", ctypes.c_size_t), ("PeakPagefileUsage", ctypes.c_size_t)]

    counters = Counters()
    counters.cb = ctypes.sizeof(Counters)
    process = ctypes.windll.kernel32.GetCurrentProcess()
    ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb)
    return (counters.PeakWorkingSetSize if peak else counters.WorkingSetSize) / MB


def peak_rss_mb() -> float:
    """The most resident memory this process has used so far, in MB."""
    kib = _status_kib("VmHWM")  # Linux; ru_maxrss would include the parent's RSS from before exec
    if kib is not None:
        return kib / 1024
    try:
        if sys.platform == "win32":
            return _windows_rss_mb(peak=True)
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / MB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere
    except (ImportError, OSError, AttributeError):
        return 0.0


def current_rss_mb() -> float:
    """Resident memory now, in MB (0.0 where it cannot be read cheaply)."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib / 1024
    with contextlib.suppress(ImportError, OSError, AttributeError):
        if sys.platform == "win32":
            return _windows_rss_mb(peak=False)
    return 0.0


# -- the budget --------------------------------------------------------------------------------
def estimate_mb(expert) -> float:
    """An expert's footprint: its own estimate, else the sizes models.lock pins for its id."""
    mb = float(expert.footprint_mb() or 0.0)
    if mb > 0:
        return mb
    with contextlib.suppress(Exception):  # a missing or broken lock must not stop a run
        from .models.lock import load_lock

        entry = load_lock().find(expert.model_id)
        if entry is not None:
            return entry.size_mb
    return 0.0


FITS, TIGHT, TOO_LARGE = "fits", "tight", "too large"
TIGHT_SHARE = 0.75  # above this share of the budget (with the controller), a model is tight


def fit(mb: float, budget: float, controller_mb: float = 0.0) -> str:
    """Whether a model of ``mb`` MB fits the budget: ``too large`` when the manager would
    refuse it (more than the whole budget), ``tight`` when with the controller it takes
    more than three quarters of it (other experts get unloaded), else ``fits``."""
    if mb > budget:
        return TOO_LARGE
    if mb + controller_mb > TIGHT_SHARE * budget:
        return TIGHT
    return FITS


@dataclass
class _Slot:
    expert: object
    mb: float
    users: int = 0


class MemoryManager:
    """Loads experts on demand and unloads idle ones to stay under a budget: those no plan
    being run needs again first (least recently used first), then the farthest needed."""

    def __init__(self, budget_mb: float):
        self.budget_mb = float(budget_mb)
        self._slots: OrderedDict[int, _Slot] = OrderedDict()
        self._lock = threading.RLock()
        self.evicted: list[str] = []  # model ids, in eviction order (for logs and tests)
        self._plans: list[list[str]] = []  # per plan being run: model ids it will still use, in order

    @property
    def upcoming(self) -> list[str]:
        """Model ids the plans being run will still use, in order (each plan's in turn)."""
        with self._lock:
            return [m for plan in self._plans for m in plan]

    @contextlib.contextmanager
    def expect(self, model_ids) -> Iterator[None]:
        """For the block (a plan's execution), ``model_ids`` will be used in this order:
        unloading prefers experts not needed again. Each use is struck off as it loads."""
        plan = [m for m in model_ids if m]
        with self._lock:
            self._plans.append(plan)
        try:
            yield
        finally:
            with self._lock:
                self._plans = [p for p in self._plans if p is not plan]

    def _strike(self, model_id: str) -> None:
        for plan in self._plans:
            if model_id in plan:
                plan.remove(model_id)
                return

    @property
    def used_mb(self) -> float:
        with self._lock:
            return sum(s.mb for s in self._slots.values())

    def held(self) -> dict[str, float]:
        """Model id -> MB of the experts held, least recently used first."""
        with self._lock:
            return {s.expert.model_id: s.mb for s in self._slots.values()}

    def loaded(self) -> list[str]:
        """Model ids of the experts held, least recently used first."""
        with self._lock:
            return [s.expert.model_id for s in self._slots.values()]

    @contextlib.contextmanager
    def use(self, expert) -> Iterator[None]:
        """Hold ``expert`` loaded (within the budget) for the duration of the block."""
        self.acquire(expert)
        try:
            yield
        finally:
            self.release(expert)

    def acquire(self, expert) -> None:
        slot = self._reserve(expert)
        try:
            expert.ensure_loaded()
        except BaseException:
            with self._lock:
                slot.users -= 1
                if slot.users == 0 and not expert.loaded:
                    self._slots.pop(id(expert), None)
            raise

    def release(self, expert) -> None:
        with self._lock:
            slot = self._slots.get(id(expert))
            if slot is not None and slot.users > 0:
                slot.users -= 1

    def _reserve(self, expert) -> _Slot:
        with self._lock:
            self._forget_unloaded()
            slot = self._slots.get(id(expert))
            if slot is None:
                mb = estimate_mb(expert)
                if mb > self.budget_mb:
                    raise ExpertError(
                        f"{expert.model_id} needs about {mb:,.0f} MB, more than the memory budget of "
                        f"{self.budget_mb:,.0f} MB; raise memory_budget_mb in the settings (0 means 60 % of "
                        "memory) or pick a smaller model")
                self._make_room(mb)
                slot = self._slots[id(expert)] = _Slot(expert, mb)
            self._strike(expert.model_id)
            self._slots.move_to_end(id(expert))
            slot.users += 1
            return slot

    def _forget_unloaded(self) -> None:
        """Drop slots of idle experts someone else unloaded (e.g. ``registry.unload_all``)."""
        for key, slot in list(self._slots.items()):
            if slot.users == 0 and not slot.expert.loaded:
                del self._slots[key]

    def _make_room(self, need: float) -> None:
        from .schedule import victims

        used = sum(s.mb for s in self._slots.values())
        idle = {slot.expert.model_id: key for key, slot in self._slots.items() if not slot.users}
        for model_id in victims(list(idle), self.upcoming):  # not needed again first, then farthest
            if used + need <= self.budget_mb:
                return
            key = idle[model_id]
            slot = self._slots[key]
            slot.expert.unload()
            del self._slots[key]
            used -= slot.mb
            self.evicted.append(slot.expert.model_id)
            log.info("unloaded %s (%.0f MB) to stay under the %.0f MB memory budget",
                     slot.expert.model_id, slot.mb, self.budget_mb)
        if used + need > self.budget_mb:
            log.warning("loading over the memory budget (%.0f + %.0f > %.0f MB): the other experts are in use",
                        used, need, self.budget_mb)

    def unload_all(self) -> None:
        with self._lock:
            for key, slot in list(self._slots.items()):
                if not slot.users:
                    slot.expert.unload()
                    del self._slots[key]
