#!/usr/bin/env python
"""Does naming the day and month names help a small controller translate them?

Translates short sentences holding day and month names with the controller, the way the
translation expert asks (``engine.experts.controller_text``), once without the note of
``engine.experts.calendar_words`` and once with it, and counts per run:

* **calendar words right**: every expected target-language word is in the translation
  (accents and case ignored);
* **left in English**: the translation keeps three or more of the source's longer words
  (not names, numbers or calendar words), i.e. it substituted words instead of translating.

The first eight sentences were used while writing the note's wording; the other twelve were
written before it was tried on them. Prints both parts and the ratio of right sentences.

    .venv/bin/python scripts/bench_calendar_words.py [--controller qwen2.5-coder-1.5b-instruct] [--threads 2]
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TUNED = [
    ("Hi, it's Sam, the team meeting is moved to Thursday at 3 p.m. in Room 12.",
     "transcribe this and translate it to french", ["jeudi"]),
    ("The store is closed on Monday and opens again on Tuesday at 9.", "translate this into french",
     ["lundi", "mardi"]),
    ("Your appointment is on Wednesday, March 4th, at 10:30.", "can you translate this to spanish",
     ["miércoles", "marzo"]),
    ("We will arrive on Friday evening and leave on Sunday morning.", "translate to german please",
     ["Freitag", "Sonntag"]),
    ("The meeting is moved to Thursday at three.", "put this in spanish", ["jueves"]),
    ("Please call me back on Saturday.", "what is this in french?", ["samedi"]),
    ("Thursday is my day off.", "translate it into italian", ["giovedì"]),
    ("The exam is on Tuesday, not on Thursday.", "in french please", ["mardi", "jeudi"]),
]
FRESH = [
    ("The invoice is due on Friday, June 6.", "translate this to french", ["vendredi", "juin"]),
    ("Our flight leaves on Tuesday morning.", "translate into spanish", ["martes"]),
    ("The concert was moved from Saturday to Sunday.", "in german please", ["Samstag", "Sonntag"]),
    ("I was born in August.", "translate it to italian", ["agosto"]),
    ("School starts again in September, on a Monday.", "can you put this in french", ["septembre", "lundi"]),
    ("The office is closed every Wednesday in July.", "spanish please", ["miércoles", "julio"]),
    ("See you on Thursday!", "translate to portuguese", ["quinta"]),
    ("The deadline is the end of January.", "translate into german", ["Januar"]),
    ("We meet every Friday at noon.", "how do you say this in italian", ["venerdì"]),
    ("The package arrived on Monday, December 2nd.", "translate to spanish", ["lunes", "diciembre"]),
    ("Sunday dinner is at my parents' house.", "translate this into french", ["dimanche"]),
    ("The museum is free on the first Tuesday of the month.", "in german", ["Dienstag"]),
]


def fold(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(ch) != "Mn")


def left_in_english(source: str, out: str) -> bool:
    from engine.experts.calendar_words import ENGLISH

    words = {w for w in re.findall(r"[a-z]{4,}", source.lower()) if w not in ENGLISH and not w[0].isdigit()}
    names = {w.lower() for w in re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+", source)}  # not a sentence's first word
    return len({w for w in re.findall(r"[a-z]{4,}", out.lower()) if w in words - names}) >= 3


def run(controller, noted: bool, cases) -> tuple[int, int]:
    from engine.experts.controller_text import ASK, INSTRUCTIONS, framed, translation_ask

    right = english = 0
    for text, request, want in cases:
        asked = translation_ask(text, request) if noted else framed(text, request, ASK["translation"])
        out = controller.complete([{"role": "system", "content": INSTRUCTIONS["translation"]},
                                   {"role": "user", "content": asked}], max_tokens=200).strip()
        right += all(fold(w) in fold(out) for w in want)
        english += left_in_english(text, out)
    return right, english


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--controller", default="qwen2.5-coder-1.5b-instruct")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    from engine.controller import load_controller
    from engine.settings import load_settings

    controller = load_controller(load_settings().with_(controller=args.controller, n_threads=args.threads))
    print(f"controller {args.controller}, {args.threads} threads")
    print("| sentences | without the note: right / left in English | with it | right, with / without |")
    print("|---|---|---|---|")
    for name, cases in (("used for the wording (8)", TUNED), ("fresh (12)", FRESH)):
        plain, noted = run(controller, False, cases), run(controller, True, cases)
        ratio = f"{noted[0] / plain[0]:.2f}×" if plain[0] else "–"
        print(f"| {name} | {plain[0]} / {plain[1]} | {noted[0]} / {noted[1]} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
