"""Small text helpers shared by the engine, the CLI and the views."""

from __future__ import annotations


def clip(text, limit: int = 80, *, one_line: bool = False) -> str:
    """``text`` cut to ``limit`` characters with "…" at the cut; ``one_line`` first
    collapses every run of whitespace (newlines included) to one space."""
    text = " ".join(str(text).split()) if one_line else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
