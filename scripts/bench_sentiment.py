#!/usr/bin/env python
"""How well does the controller sort a text by sentiment where no classifier is installed?

Runs the controller's text classification (``engine.experts.controller_text``: one word of
positive / negative / neutral / mixed under a grammar) over short texts written for this
benchmark with the sentiment a reader would give them, and prints how many it got right per
controller. Neutral and mixed texts are the hard ones; both count as right for each other.

    .venv/bin/python scripts/bench_sentiment.py [--controllers qwen2.5-coder-1.5b-instruct smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXTS = [
    ("The battery died after two days and support never answered.", "negative"),
    ("Absolutely loved the hotel, the staff were so kind!", "positive"),
    ("Arrived on time, works as described.", "positive"),
    ("Worst pizza I've ever had, cold and soggy.", "negative"),
    ("meh. it was fine i guess, nothing special", "neutral"),
    ("Great screen, but the speakers are terrible.", "mixed"),
    ("I would not recommend this to anyone.", "negative"),
    ("Thank you so much, you saved my weekend!", "positive"),
    ("The package was left at the door.", "neutral"),
    ("Not bad at all, better than I expected.", "positive"),
    ("The food was lovely but we waited an hour for it.", "mixed"),
    ("Cancel my order. This is the third time it's late.", "negative"),
]
SOFT = {"neutral": {"neutral", "mixed"}, "mixed": {"neutral", "mixed"}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controllers", nargs="+", default=["qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    from engine.controller import load_controller
    from engine.experts.base import ExpertContext
    from engine.experts.controller_text import ControllerText
    from engine.settings import load_settings

    expert = ControllerText()
    print("| controller | right (of 12) | positive / negative right (of 8) |")
    print("|---|---|---|")
    for name in args.controllers:
        controller = load_controller(load_settings().with_(controller=name, n_threads=args.threads))
        right = polar = 0
        for text, want in TEXTS:
            ctx = ExpertContext(run_dir=Path(tempfile.mkdtemp()), controller=controller,
                                request="is this review positive or negative?")
            got = expert.run("text-classification", {"text": text}, ctx).text
            ok = got in SOFT.get(want, {want})
            right += ok
            polar += ok and want in ("positive", "negative")
        print(f"| {name} | {right} | {polar} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
