#!/usr/bin/env python
"""Planning time, cold and warm, with and without reuse of the prompt's fixed start.

Cold: a fresh controller and planner plan one request (model load, the MiniLM
ranker and demo bank, the whole prompt evaluated). Warm: further requests in the
same process, each after an unrelated call (as a run's answer stage would make);
their prompts start with the same instructions and task list, which the
controller's prefix cache has kept evaluated. The same warm requests are then
planned by a second controller with the cache off (llama.cpp then reuses only
what matches the last prompt it evaluated). Requests are chosen so
the controller is really asked (a quoted text to pick), not planned by forced
steps alone. Prints seconds and the ratios measured in this run.

    .venv/bin/python scripts/bench_planning.py --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COLD = "Translate 'Good night, sleep well' into French."
WARM = ["Translate 'See you tomorrow' into German.", "Summarize this: The museum opens at nine and closes at five.",
        "Read 'Welcome home' aloud.", "Translate 'Where is the station?' into Italian.",
        "Make a picture of 'a red boat on a lake'."]
SHOWCASE = ("What animal is in chelsea.png? Then say the answer out loud.", {"chelsea.png": "image"})


def plan_times(planner, requests) -> list[float]:
    """Each plan follows an answer-like call, as in a real run, so the context the
    controller evaluated last is not the planning prompt."""
    times = []
    for request in requests:
        planner.controller.complete([{"role": "user", "content": f"Say hello about: {request}"}], max_tokens=8)
        started = time.perf_counter()
        planner.plan(request)
        times.append(time.perf_counter() - started)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="planning time, cold and warm")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", default="")
    args = p.parse_args(argv)
    from engine.controller.llama import LlamaController
    from engine.plan.planner import default_planner
    from engine.settings import load_settings

    t0 = time.perf_counter()
    llm = LlamaController(args.model or None, n_threads=args.threads)
    planner = default_planner(llm, cache_dir=load_settings().cache_dir)
    built = time.perf_counter() - t0
    started = time.perf_counter()
    planner.plan(COLD)
    cold = time.perf_counter() - started
    calls = llm.stats.calls
    warm = plan_times(planner, WARM)
    started = time.perf_counter()
    plan = planner.plan(*SHOWCASE).plan
    showcase = time.perf_counter() - started

    nocache = LlamaController(args.model or None, n_threads=args.threads, prefix_cache_mb=0)
    plain = default_planner(nocache, cache_dir=load_settings().cache_dir)
    plain.plan(COLD)
    warm_nocache = plan_times(plain, WARM)

    static = len(llm.render([{"role": "system", "content": llm_prompt(planner)}])[0])
    print(f"planner built (ranker, demo bank; MiniLM rows from disk when cached): {built:.2f}s")
    print(f"cold first plan (model load + whole prompt): {cold:.2f}s  ({calls} controller call(s))")
    print(f"warm plans, prefix cache on : median {statistics.median(warm):.2f}s  {[round(t, 2) for t in warm]}")
    print(f"warm plans, prefix cache off: median {statistics.median(warm_nocache):.2f}s  "
          f"{[round(t, 2) for t in warm_nocache]}")
    print(f"showcase plan (forced steps, no controller call): {showcase:.3f}s -> {[t.task for t in plan.tasks]}")
    print(f"fixed prompt start: {static} tokens")
    print(f"ratio cold / warm (cache on): {cold / statistics.median(warm):.1f}x; "
          f"warm cache off / on: {statistics.median(warm_nocache) / statistics.median(warm):.2f}x")
    return 0


def llm_prompt(planner) -> str:
    from engine.plan import prompts

    return prompts.PLAN_SPEC.format(tasks=prompts.task_list_text(planner.task_types))


if __name__ == "__main__":
    sys.exit(main())
