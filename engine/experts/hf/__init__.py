"""Standard Hugging Face models run from local files (transformers, optionally ONNX Runtime).

Users bring these models themselves: they sit in the Hugging Face cache (pulled
earlier, or with ``hgpt models pull NAME``) or in a folder saved with
``save_pretrained``. ``register(registry)`` — called through ``BUILTIN_MODULES`` like
every built-in — registers one ``TransformersExpert`` per cached model with a task
type hgpt can run; nothing is downloaded and nothing heavy is imported until a task
actually runs.

Modules: ``local`` (finding files), ``infer`` (task types from a folder), ``runners``
(the per-task registry), ``text``/``vision``/``audio`` (the runners), ``draw``
(boxes, masks, depth maps), ``load`` (pipelines on torch or ONNX Runtime), ``onnx``
(the export cache), ``expert`` and ``discover``.
"""

from __future__ import annotations

from .discover import discover, register
from .expert import TransformersExpert

EXPERTS: list = []  # nothing fixed: register() finds the models in the cache

__all__ = ["TransformersExpert", "discover", "register", "EXPERTS"]
