"""Building a transformers pipeline from local files, on torch or on ONNX Runtime.

Every load is local and safe: the pipeline is given a folder, never a Hub id, with
``local_files_only=True`` and ``trust_remote_code=False`` (a model that needs its own
Python code is refused, not run). safetensors weights are preferred; a folder with
only ``pytorch_model.bin`` is loaded by transformers with ``torch.load(weights_only=True)``,
which unpickles tensors and nothing else.

The backend is "torch", "onnx" or "auto" (``HGPT_EXPERT_BACKEND`` sets the default;
an expert's own option wins). "auto" takes ONNX Runtime where the runner names an
optimum class, optimum is installed and the model runs on the CPU, and falls back to
torch, with a logged reason, when the export fails. ``prepare()`` first works around
a torchvision wheel that cannot load (see ``engine.devices``) so image models still
load through Pillow.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from ...devices import torch_device, torch_dtype, usable_torchvision
from ...errors import ModelFileError, UserInputError
from ...settings import environment
from . import onnx
from .local import content_key, weight_format

log = logging.getLogger(__name__)
BACKENDS = ("auto", "torch", "onnx")


def default_backend() -> str:
    value = environment().backend
    if value not in BACKENDS:
        raise UserInputError(f"HGPT_EXPERT_BACKEND={value!r} is not one of {', '.join(BACKENDS)}; "
                             "set it to auto, torch or onnx")
    return value


def prepare() -> None:
    """Make transformers and diffusers load here even when torchvision (and so timm) is broken.

    Both libraries note at import time whether torchvision and timm are installed and
    import them later if so; with a broken torchvision hidden (``engine.devices``) the
    flags of a library imported earlier are corrected, and transformers is imported
    now so that its timm flag can be (timm imports torchvision, so it cannot load).
    """
    if usable_torchvision():
        return
    if importlib.util.find_spec("transformers") is not None:
        importlib.import_module("transformers.utils.import_utils")
    for name in ("transformers.utils.import_utils", "diffusers.utils.import_utils"):
        module = sys.modules.get(name)
        for flag in ("_torchvision_available", "_timm_available"):
            if module is not None and getattr(module, flag, False):
                setattr(module, flag, False)


def require_weights(folder: Path) -> str:
    fmt = weight_format(folder)
    if fmt is None:
        raise ModelFileError(f"{folder} has no PyTorch weights (model.safetensors or pytorch_model.bin); "
                             "pull a revision of the model that ships them")
    return fmt


def torch_pipeline(task: str, folder: Path, **extra) -> Any:
    prepare()
    from transformers import pipeline

    device = torch_device()
    kwargs = {"use_safetensors": require_weights(folder) == "safetensors", "local_files_only": True}
    return pipeline(task, model=str(folder), trust_remote_code=False, device=device,
                    dtype=torch_dtype(device), model_kwargs=kwargs, **extra)


def onnx_pipeline(task: str, folder: Path, ort_class: str, model_id: str, onnx_dir: Path | None = None,
                  **extra) -> Any:
    prepare()
    from transformers import pipeline

    require_weights(folder)
    model = onnx.load(folder, ort_class, model_id, content_key(folder), onnx_dir)
    return pipeline(task, model=model, trust_remote_code=False, **_processors(folder), **extra)


def _processors(folder: Path) -> dict:
    """Tokenizer/processor arguments for a pipeline built from a model object."""
    found = {p.name for p in folder.iterdir()}
    out: dict[str, str] = {}
    if found & {"tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json"}:
        out["tokenizer"] = str(folder)
    if "preprocessor_config.json" in found:
        out["image_processor"] = str(folder)
    return out


def choose(backend: str, ort_class: str | None) -> str:
    """"onnx" or "torch" for one load, given the asked backend and the runner's ONNX class."""
    if backend == "torch" or ort_class is None:
        if backend == "onnx":
            log.info("no ONNX export for this task type; using torch")
        return "torch"
    if backend == "auto" and (not onnx.available() or torch_device() != "cpu"):
        return "torch"
    return "onnx"


def build(task: str, folder: Path, ort_class: str | None, model_id: str, backend: str,
          onnx_dir: Path | None = None, **extra) -> tuple[Any, str]:
    """The pipeline and the backend that runs it ("onnxruntime" or "torch").

    ``onnx_dir`` is where ONNX exports are kept (None: a temporary folder, see ``onnx``)."""
    if backend not in BACKENDS:
        raise UserInputError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if choose(backend, ort_class) == "onnx":
        try:
            return onnx_pipeline(task, folder, ort_class, model_id, onnx_dir, **extra), "onnxruntime"
        except onnx.OnnxExportError as exc:
            if backend == "onnx":
                raise
            log.warning("%s; running it on torch", exc)
    return torch_pipeline(task, folder, **extra), "torch"


def share(task: str, loaded: Any, **extra) -> Any:
    """A pipeline for another task over an already loaded model (no second copy of the weights)."""
    from transformers import pipeline

    kwargs = {k: getattr(loaded, k) for k in ("tokenizer", "image_processor", "feature_extractor")
              if getattr(loaded, k, None) is not None}
    return pipeline(task, model=loaded.model, **kwargs, **extra)
