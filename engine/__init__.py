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
    # running requests
    "Engine": ("engine.session", "Engine"),
    "CancelToken": ("engine.cancel", "CancelToken"),
    "events": ("engine.events", None),
    # settings
    "Settings": ("engine.settings", "Settings"),
    "load_settings": ("engine.settings", "load_settings"),
    "save_home": ("engine.settings", "save_home"),
    "home_is_forced": ("engine.settings", "home_is_forced"),
    "check_controller": ("engine.controller", "check_controller"),
    "probe_controller": ("engine.controller", "probe_controller"),
    "INFERENCE_MODES": ("engine.ondemand", "MODES"),
    # errors
    "errors": ("engine.errors", None),
    "HgptError": ("engine.errors", "HgptError"),
    "Cancelled": ("engine.errors", "Cancelled"),
    "AttachmentError": ("engine.errors", "AttachmentError"),
    "ModelFileError": ("engine.errors", "ModelFileError"),
    # what views show
    "RunView": ("engine.views.runview", "RunView"),
    "Node": ("engine.views.runview", "Node"),
    "ModelBrowser": ("engine.views.browse", "ModelBrowser"),
    "MODEL_COLUMNS": ("engine.views.browse", "COLUMNS"),
    "SEARCH_LIMIT": ("engine.views.browse", "SEARCH_LIMIT"),
    "PlanDraft": ("engine.plan.review", "PlanDraft"),
    "ReviewedPlan": ("engine.plan.review", "ReviewedPlan"),
    "PlanningVerdict": ("engine.plan.calibration", "Verdict"),  # whose plans run, measured (hgpt calibrate)
    "planning_verdicts": ("engine.plan.calibration", "load_verdicts"),
    "HistoryStore": ("engine.history", "HistoryStore"),
    "welcome": ("engine.views.welcome", "welcome"),
    "overlay_for": ("engine.views.overlay", "overlay_for"),
    "waveform": ("engine.views.audio", "waveform"),
    "audio_tail": ("engine.views.audio", "tail"),
    # the local API (engine.serve: `hgpt serve`, `hgpt mcp`, the window's server toggle)
    "ApiServer": ("engine.serve.server", "ApiServer"),
    "ServeConfig": ("engine.serve.config", "ServeConfig"),
    # experts and task types, for callers that run one expert directly (engine.serve)
    "ExpertContext": ("engine.experts.base", "ExpertContext"),
    "TASK_TYPES": ("engine.tasks", "TASK_TYPES"),
    "environment": ("engine.settings", "environment"),
    # files and text
    "modality_of": ("engine.files", "modality_of"),
    "dialog_filter": ("engine.files", "dialog_filter"),
    "clip": ("engine.text", "clip"),
    "compose_answer": ("engine.answer", "compose"),
    # repeating runs, carrying chats (engine.rerun, engine.chats)
    "Changes": ("engine.rerun", "Changes"),
    "export_chat": ("engine.chats", "export_chat"),
    "import_chat": ("engine.chats", "import_chat"),
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
