#!/usr/bin/env python3
"""Benchmark the pipeline on the README's showcase request (printed, not asserted).

Prints, for a cold and a warm run in one process: the time of each stage, the
engine's wall time against raw llama.cpp generation time plus expert inference
time (the ratio is the engine's own overhead), and a plan with two independent
branches run in parallel vs. sequentially.

    .venv/bin/python scripts/bench_pipeline.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


def run_once(engine, attachments):
    from engine import events as ev

    llm_before = engine.controller.stats.seconds
    started = time.perf_counter()
    record = None
    for event in engine.run(SHOWCASE, attachments):
        if isinstance(event, ev.AnswerDone):
            record = event.record
        elif isinstance(event, ev.RunFailed):
            raise SystemExit(f"run failed: {event.error}")
    wall = time.perf_counter() - started
    llm = engine.controller.stats.seconds - llm_before
    experts = sum(t.get("seconds", 0.0) for t in record["tasks"].values())
    return record, wall, llm, experts


def two_branches(engine, files, workers):
    """Image classification and speech recognition, independent, through the executor."""
    from engine.execute import Executor
    from engine.plan.graph import Task
    from engine.select import select

    tasks = [Task(0, "image-classification", [-1], {"image": "chelsea.png"}),
             Task(1, "automatic-speech-recognition", [-1], {"audio": "speech.wav"})]
    selections = {t.id: select(t, "bench", engine.registry, engine.catalog, engine.controller, 1)
                  for t in tasks}
    for s in selections.values():
        s.expert.ensure_loaded()
    with tempfile.TemporaryDirectory() as run_dir:
        executor = Executor(selections, run_id="bench", run_dir=Path(run_dir), attachments=files,
                            controller=engine.controller, max_workers=workers)
        started = time.perf_counter()
        events = list(executor.run(tasks))
        wall = time.perf_counter() - started
    failed = [e for e in events if e.kind == "TaskFailed"]
    if failed:
        raise SystemExit(f"branch failed: {failed[0].error}")
    return wall


def speech_file(engine, folder: Path) -> Path:
    from engine.experts.base import ExpertContext

    tts = engine.registry.for_task("text-to-speech")[0]
    ctx = ExpertContext(folder, 0, engine.controller)
    result = tts("text-to-speech", {"text": "The quick brown fox jumps over the lazy dog. "
                                           "It was a sunny morning in the small town."}, ctx)
    return Path(result.files[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HGPT_HOME", tempfile.mkdtemp(prefix="hgpt-bench-"))
    from engine.settings import load_settings
    from engine.session import Engine

    settings = load_settings().with_(n_threads=args.threads, results_cache_mb=0)  # every run computes its tasks
    engine = Engine(settings)
    chelsea = str(ROOT / "samples" / "chelsea.png")
    print(f"controller: {engine.controller.path.name}, threads {args.threads}\n")
    print(f"{'run':<6}{'plan':>8}{'select':>8}{'execute':>9}{'answer':>8}{'total':>8}"
          f"{'llama.cpp':>11}{'experts':>9}{'overhead':>10}")
    for label in ("cold", "warm"):
        record, wall, llm, experts = run_once(engine, [chelsea])
        t = record["timings"]
        ratio = wall / (llm + experts) if llm + experts else float("nan")
        print(f"{label:<6}{t.get('plan', 0):>8.2f}{t.get('select', 0):>8.2f}{t.get('execute', 0):>9.2f}"
              f"{t.get('answer', 0):>8.2f}{wall:>8.2f}{llm:>11.2f}{experts:>9.2f}{ratio:>9.3f}x")
    print("\nplan:", " → ".join(task["task"] for task in record["plan"]))
    print("overhead = engine wall time / (llama.cpp generation + expert inference); 1.000x is none.\n")

    folder = Path(tempfile.mkdtemp(prefix="hgpt-bench-files-"))
    files = {"chelsea.png": Path(chelsea), "speech.wav": speech_file(engine, folder)}
    two_branches(engine, files, 2)  # warm both experts' caches
    sequential = min(two_branches(engine, files, 1) for _ in range(3))
    parallel = min(two_branches(engine, files, 2) for _ in range(3))
    print("two independent branches (image-classification ‖ speech recognition), best of 3:")
    print(f"  sequential {sequential:.2f} s, parallel {parallel:.2f} s, speed-up {sequential / parallel:.2f}x")


if __name__ == "__main__":
    main()
