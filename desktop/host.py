"""One engine for the window, built lazily and off the UI thread.

``EngineHost.get()`` builds the ``Engine`` on first call (from the worker thread of
the first request, or from the warm-up thread the window starts after it first
paints); a lock makes the two meet on one instance. ``warm_up`` also loads the
controller's weights and the expert registry, so the first request does not pay
for them. ``reset`` drops the engine after the settings changed; the next request
builds a new one. No Qt here.
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
        self._lock = threading.RLock()
        self.warm_error = ""

    def get(self):
        with self._lock:
            if self._engine is None:
                if self._factory is not None:
                    self._engine = self._factory()
                else:
                    from engine.pipeline import Engine

                    self._engine = Engine(self.settings)
            return self._engine

    @property
    def built(self) -> bool:
        return self._engine is not None

    def warm_up(self) -> None:
        """Load the controller and the registry now; errors wait for the first request."""
        try:
            engine = self.get()
            with self._lock:
                _ = engine.registry
                controller = engine.controller
                if hasattr(controller, "llama"):
                    _ = controller.llama
        except Exception as exc:  # reported again, clearly, when a request needs it
            self.warm_error = str(exc)
            log.warning("warm-up failed: %s", exc)

    def start_warm_up(self) -> threading.Thread:
        thread = threading.Thread(target=self.warm_up, name="hgpt-warm-up", daemon=True)
        thread.start()
        return thread

    def reset(self, settings) -> None:
        with self._lock:
            self.settings = settings
            self._engine = None
