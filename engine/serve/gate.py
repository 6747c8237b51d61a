"""The bounded queue in front of the engine.

Every request that runs something (a pipeline run, a plan, an expert call) first asks
the ``Gate`` for a ``Ticket``. At most ``running`` hold a slot at once (the
controller serialises its own llama.cpp calls; two runs overlap usefully, one
planning while the other runs experts), and at most ``waiting`` more wait for one.
Beyond that ``admit`` raises ``Busy`` at once, with a Retry-After estimate from the
recent runs' durations, so a client learns in milliseconds that it should come back,
instead of holding a connection open behind a long queue.

A ticket waits for its slot on the event loop (``try_take``, polled) or in a thread
(``wait``), checking the request's cancel token, so a client that goes away while
queued frees its place without ever running.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque


class Busy(Exception):
    """Every slot and every place in the queue is taken."""

    def __init__(self, retry_after: int, running: int, waiting: int):
        self.retry_after, self.running, self.waiting = retry_after, running, waiting
        super().__init__(f"hgpt is busy: {running} running and {waiting} waiting, which is all it takes; "
                         f"retry in {retry_after} s")


class Gate:
    DEFAULT_SECONDS = 10.0  # a guess for Retry-After before any run has finished

    def __init__(self, running: int = 2, waiting: int = 32):
        self.running, self.waiting = max(1, running), max(0, waiting)
        self._slots = threading.Semaphore(self.running)
        self._lock = threading.Lock()
        self._admitted = 0  # holding a slot or waiting for one
        self._active = 0  # holding a slot
        self._durations: deque[float] = deque(maxlen=20)

    def admit(self) -> "Ticket":
        with self._lock:
            if self._admitted >= self.running + self.waiting:
                raise Busy(self._retry_after(), self._active, self._admitted - self._active)
            self._admitted += 1
        return Ticket(self)

    def _retry_after(self) -> int:
        mean = sum(self._durations) / len(self._durations) if self._durations else self.DEFAULT_SECONDS
        rounds = math.ceil((self._admitted - self.running + 1) / self.running)  # queue turns before a slot frees
        return int(min(600, max(1, round(mean * max(1, rounds)))))

    def stats(self) -> dict:
        with self._lock:
            return {"running": self._active, "waiting": self._admitted - self._active,
                    "slots": self.running, "queue": self.waiting}

    # -- for Ticket ----------------------------------------------------------------------------
    def _acquired(self) -> None:
        with self._lock:
            self._active += 1

    def _left(self, held: bool, seconds: float | None) -> None:
        with self._lock:
            self._admitted -= 1
            if held:
                self._active -= 1
                if seconds is not None:
                    self._durations.append(seconds)
        if held:
            self._slots.release()


class Ticket:
    """A place in the gate: ``wait`` for a slot (in the worker thread), ``release`` once."""

    def __init__(self, gate: Gate):
        self.gate = gate
        self.held = False
        self.released = False
        self.started = 0.0
        self.queued_at = time.perf_counter()
        self.waited = 0.0  # seconds spent in the queue
        self._lock = threading.Lock()

    def wait(self, cancel=None, poll: float = 0.1) -> bool:
        """Block until a slot is free (True), or until ``cancel`` is set (False)."""
        while not self.gate._slots.acquire(timeout=poll):
            if cancel is not None and cancel.cancelled:
                return False
        return self._took()

    def try_take(self) -> bool:
        """Take a free slot now if there is one (the event loop polls this, never blocking)."""
        return self.gate._slots.acquire(blocking=False) and self._took()

    def _took(self) -> bool:
        with self._lock:
            if self.released:  # released while waiting (the request went away): give the slot back
                self.gate._slots.release()
                return False
            self.held = True
        self.gate._acquired()
        self.started = time.perf_counter()
        self.waited = self.started - self.queued_at
        return True

    def release(self, record: bool = True) -> None:
        with self._lock:
            if self.released:
                return
            self.released = True
            held = self.held
        seconds = time.perf_counter() - self.started if held and record else None
        self.gate._left(held, seconds)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()
