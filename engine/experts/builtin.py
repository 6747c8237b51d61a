"""The built-in experts, registered through the ``hgpt.experts`` entry point.

Each module under ``engine.experts`` that holds built-ins exposes ``EXPERTS``, a list
of classes; importing a module must stay cheap (heavy imports happen in ``setup``).
A module that fails (to import, or to register) is reported like a broken plugin,
as ``registry.plugin_errors["builtin:<module>"]``, and the others still register.
"""

from __future__ import annotations

import importlib

BUILTIN_MODULES = [
    "engine.experts.controller_text",
    "engine.experts.efficientnet",
    "engine.experts.piper",
    "engine.experts.whisper",
    "engine.experts.sphinx",
    "engine.experts.ocr",
    "engine.experts.spacy_ner",
    "engine.experts.mediapipe_vision",
    "engine.experts.minilm",
    # Last: models found in the HF cache; ids a pack above already serves are skipped.
    "engine.experts.hf",
    "engine.experts.control",  # ControlNet maps; uses the cached depth/segmentation models above
]


def register(registry) -> None:
    for name in BUILTIN_MODULES:
        try:
            module = importlib.import_module(name)
            if hasattr(module, "register"):  # a module that finds its experts at run time
                module.register(registry)
                continue
            for cls in module.EXPERTS:
                registry.register(cls())
        except Exception as exc:  # one broken module must not take the other built-ins down
            registry.plugin_failed(f"builtin:{name}", exc)
