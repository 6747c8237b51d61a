"""Test helpers that ship with the engine: a scripted controller.

``ScriptedController`` replaces the LLM only in unit tests of the code around it
(planning repair, selection parsing, scheduling, events). It answers from a queue
and records every call, like llm's ``MockModel``.
"""

from __future__ import annotations

from typing import Iterator


class ScriptedController:
    name = "scripted"

    def __init__(self, replies: list[str] | None = None):
        self.replies: list[str] = list(replies or [])
        self.calls: list[dict] = []

    def enqueue(self, *replies: str) -> "ScriptedController":
        self.replies.extend(replies)
        return self

    def _next(self) -> str:
        if not self.replies:
            raise AssertionError("ScriptedController has no reply queued")
        return self.replies.pop(0)

    def complete(self, messages, *, grammar=None, max_tokens=512) -> str:
        self.calls.append({"messages": messages, "grammar": grammar, "stream": False})
        return self._next()

    def stream(self, messages, *, max_tokens=512) -> Iterator[str]:
        self.calls.append({"messages": messages, "grammar": None, "stream": True})
        reply = self._next()
        for i in range(0, len(reply), 8):
            yield reply[i : i + 8]
