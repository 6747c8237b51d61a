"""One engine for the window, built lazily and off the UI thread.

``EngineHost.get()`` builds the ``Engine`` on first call; that is cheap (the engine
loads its parts lazily) and guarded by a lock held only for the construction, so
the UI thread may call it. ``ready()`` — called from worker threads, never the UI
thread — also loads the expert registry and the controller's weights, once, under
a second lock: the warm-up thread the window starts after it first paints and the
first request meet there instead of loading twice. ``update`` hands new settings
to the engine, which applies them from the next request. No Qt here.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class EngineHost:
    def __init__(self, settings, factory=None):
        self.settings = settings
        self._factory = factory
        self._engine = None
        self._lock = threading.Lock()
        self._ready_lock = threading.Lock()
        self._ready_for = None
        self.warm_error = ""

    def get(self):
        with self._lock:
            if self._engine is None:
                if self._factory is not None:
                    self._engine = self._factory()
                else:
                    from engine import Engine

                    self._engine = Engine(self.settings)
            return self._engine

    @property
    def built(self) -> bool:
        return self._engine is not None

    def ready(self):
        """The engine with its registry and controller loaded (slow the first time)."""
        engine = self.get()
        with self._ready_lock:
            if self._ready_for is not engine:
                self._ready_for = engine
                try:
                    engine.warm_up()
                except Exception as exc:  # the run reports it again, clearly, where it happens
                    self.warm_error = str(exc)
                    log.warning("warm-up failed: %s", exc)
        return engine

    def warm_up(self) -> None:
        self.ready()

    def start_warm_up(self) -> threading.Thread:
        thread = threading.Thread(target=self.warm_up, name="hgpt-warm-up", daemon=True)
        thread.start()
        return thread

    def update(self, settings) -> None:
        with self._lock:
            self.settings = settings
            if self._engine is not None:
                self._engine.update(settings)
        with self._ready_lock:
            self._ready_for = None  # the next ready() loads what the new settings changed
