"""The runner registry: how each hgpt task type is run through transformers.

A ``Runner`` pairs a task type with the transformers pipeline that serves it, the
optimum ONNX class when exporting pays off (encoder-only text models and image
classifiers, where ONNX Runtime is markedly faster on a CPU), an optional custom
loader for the few tasks transformers has no pipeline for, and the function that
turns the pipeline's answer into an ``ExpertResult`` (text, files, data).

The built-in runners live in ``text``, ``vision`` and ``audio`` and register with
the ``@runner`` decorator; an outside package adds runners the same way, from a
module it names in the ``hgpt.runners`` entry point group (like expert plugins in
``hgpt.experts``); a module that fails to load is kept in ``PLUGIN_ERRORS`` and
the others still register. A second runner for one task is refused, and asking
for an unknown task lists the known ones. Task types no standard transformers model can
serve are listed in ``UNSUPPORTED`` with the reason, so the message a user sees
says what would work instead.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...errors import HgptError, UnknownNameError

MODULES = ("engine.experts.hf.text", "engine.experts.hf.vision", "engine.experts.hf.audio")
ENTRY_POINT_GROUP = "hgpt.runners"
PLUGIN_ERRORS: dict[str, str] = {}  # entry point name -> why its runners could not load

UNSUPPORTED = {
    "tabular-classification": (
        "tabular-classification models on the Hub are scikit-learn or Keras pickles, which hgpt does not "
        "load (unpickling runs code) and transformers cannot run; read the table with image-to-text (OCR) "
        "and classify its text with text-classification instead"),
}


class DuplicateRunnerError(HgptError, ValueError):
    pass


class UnsupportedTaskError(HgptError, ValueError):
    """No transformers model can serve this task type; the message says what would."""


@dataclass(frozen=True)
class Runner:
    task: str
    run: Callable[..., Any]  # (loaded, args, ctx, options) -> ExpertResult
    pipeline: str | None = None  # the transformers pipeline task the default loader builds
    onnx: str | None = None  # the optimum.onnxruntime class, where ONNX pays
    load: Callable[[Path, dict], Any] | None = None  # custom loader (folder, options) -> loaded


RUNNERS: dict[str, Runner] = {}


def runner(task: str, *, pipeline: str | None = None, onnx: str | None = None,
           load: Callable[[Path, dict], Any] | None = None):
    """Register the decorated function as the runner of ``task``."""
    def decorate(fn):
        if task in RUNNERS:
            raise DuplicateRunnerError(f"a runner for {task!r} is already registered ({RUNNERS[task].run.__module__})")
        RUNNERS[task] = Runner(task, fn, pipeline, onnx, load)
        return fn
    return decorate


_loaded = False


def _load_modules() -> None:
    global _loaded
    if _loaded:
        return
    for name in MODULES:
        importlib.import_module(name)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()  # importing the module registers its @runner functions
        except Exception as exc:  # a broken plugin must not take the others down
            PLUGIN_ERRORS[ep.name] = f"{type(exc).__name__}: {exc}"
    _loaded = True


def get(task: str) -> Runner:
    _load_modules()
    if task in UNSUPPORTED:
        raise UnsupportedTaskError(f"{task}: {UNSUPPORTED[task]}")
    try:
        return RUNNERS[task]
    except KeyError:
        raise UnknownNameError("transformers task", task, list(RUNNERS)) from None


def supported_tasks() -> list[str]:
    _load_modules()
    return sorted(RUNNERS)
