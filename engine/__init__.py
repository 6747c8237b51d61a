"""hgpt's headless engine: plan → select → execute → answer, as a stream of typed events.

Nothing under ``engine`` imports Qt (``tests/test_boundaries.py`` enforces it), and
heavy libraries (torch, transformers, llama_cpp) are imported lazily, on first use.

This package is the one import surface for the CLI, the window and the server:
``from engine import Engine, load_settings, events``. Names are resolved on first
access, so importing ``engine`` stays cheap (the window paints before the engine
loads).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_EXPORTS = {
    "Engine": ("engine.session", "Engine"),
    "Settings": ("engine.settings", "Settings"),
    "load_settings": ("engine.settings", "load_settings"),
    "CancelToken": ("engine.cancel", "CancelToken"),
    "events": ("engine.events", None),
    "errors": ("engine.errors", None),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'engine' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    value = value if attribute is None else getattr(value, attribute)
    globals()[name] = value
    return value
