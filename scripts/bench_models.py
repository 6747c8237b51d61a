#!/usr/bin/env python3
"""Benchmark the model-file machinery: verification, a verified pull, the memory budget.

Prints figures measured in this run, as ratios where they make sense:

* ``verify``: sha256 of every installed PyPI pack (MB/s), and what a second check of
  the same files costs when an expert loads (the stat-keyed cache) vs the first;
* ``pull``: a 64 MiB model from a local server that answers like the Hub
  (tests/fakehub.py, 127.0.0.1 only): throughput, and the share of the time spent
  verifying before the file becomes visible; then the same with the connection cut
  halfway once, to show what a resume costs;
* ``memory``: the cost of one ``MemoryManager.use`` around an already loaded expert.

    .venv/bin/python scripts/bench_models.py
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ["HF_HUB_OFFLINE"] = "0"
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


def bench_verify() -> None:
    from engine.models import load_lock
    from engine.models.verify import _hash_cache, check_model

    packs = [e for e in load_lock() if e.kind == "pypi"]
    _hash_cache.clear()
    t0 = time.perf_counter()
    checks = [check_model(e, cached=True) for e in packs]
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for e in packs:
        check_model(e, cached=True)
    again = time.perf_counter() - t0
    mb = sum(c.entry.size_mb for c in checks if c.status == "verified")
    print(f"verify: {sum(c.status == 'verified' for c in checks)} packs, {mb:.0f} MB hashed in {first:.2f} s "
          f"= {mb / first:.0f} MB/s; checking them again when experts load: {again * 1000:.1f} ms "
          f"({first / again:.0f}x cheaper)")


def bench_pull() -> None:
    import huggingface_hub.constants
    from fakehub import FakeHub, sha256

    from engine.models.lock import parse_lock
    from engine.models.pull import pull
    from engine.models.verify import sha256_file

    huggingface_hub.constants.HF_HUB_OFFLINE = False
    data = random.Random(1).randbytes(64 * 2**20)
    lock = parse_lock(f"""
[models.bench]
source = "hf:bench/model"
files = [{{path = "model.bin", sha256 = "{sha256(data)}", size = {len(data)}}}]
""")
    with FakeHub({("bench/model", "model.bin"): data}) as hub, tempfile.TemporaryDirectory() as tmp:
        for label, drop in (("clean", False), ("cut once", True)):
            cache = Path(tmp) / label.replace(" ", "-")
            if drop:
                hub.drop_once.add("model.bin")
            t0 = time.perf_counter()
            pulled = pull("bench", offline=False, lock=lock, cache_dir=cache, endpoint=hub.url)
            total = time.perf_counter() - t0
            t0 = time.perf_counter()
            sha256_file(pulled[0].path, cached=False)
            hashing = time.perf_counter() - t0
            print(f"pull ({label}): 64 MB in {total:.2f} s = {64 / total:.0f} MB/s over loopback; "
                  f"hashing the file takes {hashing / total:.0%} of that; GETs: {len(hub.gets('/cdn/'))}")
            hub.requests.clear()


def bench_memory() -> None:
    from engine.experts.base import Expert
    from engine.memory import MemoryManager

    class Tiny(Expert):
        model_id, tasks = "tiny", ("text-generation",)

        def footprint_mb(self) -> float:
            return 1.0

    memory, expert = MemoryManager(budget_mb=10), Tiny()
    n = 20000
    t0 = time.perf_counter()
    for _ in range(n):
        with memory.use(expert):
            pass
    per = (time.perf_counter() - t0) / n
    print(f"memory: MemoryManager.use around a loaded expert costs {per * 1e6:.1f} µs per task")


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.ERROR)  # the resume warning is expected here
    bench_verify()
    bench_pull()
    bench_memory()
