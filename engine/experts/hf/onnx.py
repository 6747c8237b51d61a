"""ONNX exports of transformers models, made once and kept on disk.

For the task types where it pays (encoder-only text models, image classifiers),
``exported()`` converts a model with optimum (``ORTModelFor….from_pretrained(folder,
export=True)``) and keeps the result under ``<data folder>/onnx/<org--name>/<key>/<class>``,
where the key is the snapshot's commit (or a digest of a plain folder's weights), so
a new revision gets a new export and an old one is never served for it. The export
is written to a temporary folder beside the target and renamed into place, so an
interrupted export leaves no half model behind; the tokenizer and processor files
are copied in too, making the folder self-contained. An export that fails leaves a
``FAILED`` note with the reason, so the next start goes straight to torch instead of
trying (and failing) again.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from ...errors import ExpertError

log = logging.getLogger(__name__)
# Files a tokenizer, image processor or feature extractor is made of.
PROCESSOR_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                   "added_tokens.json", "preprocessor_config.json", "processor_config.json")


class OnnxExportError(ExpertError):
    """optimum could not export this model; torch runs it instead."""


def onnx_home() -> Path:
    from ...settings import settings

    return settings().home / "onnx"


def export_dir(model_id: str, key: str, ort_class: str) -> Path:
    return onnx_home() / model_id.replace("/", "--") / key / ort_class


def available() -> bool:
    """Are optimum's ONNX Runtime classes and onnxruntime installed? (no import)"""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "optimum"))


def exported(folder: Path, ort_class: str, model_id: str, key: str) -> Path:
    """The folder of ``model_id``'s ONNX export for ``ort_class``, exporting it on first use."""
    target = export_dir(model_id, key, ort_class)
    if (target / "model.onnx").is_file():
        return target
    failed = target.with_name(ort_class + ".FAILED")
    if failed.is_file():
        raise OnnxExportError(f"{model_id} could not be exported to ONNX earlier: {failed.read_text().strip()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ort_class}-", dir=target.parent))
    try:
        _export(folder, ort_class, tmp)
        _publish(tmp, target)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        failed.write_text(f"{type(exc).__name__}: {exc}\n")
        raise OnnxExportError(f"{model_id} could not be exported to ONNX ({type(exc).__name__}: {exc})") from exc
    log.info("exported %s to ONNX in %s", model_id, target)
    return target


def _export(folder: Path, ort_class: str, out: Path) -> None:
    import optimum.onnxruntime as ort

    model = getattr(ort, ort_class).from_pretrained(str(folder), export=True, local_files_only=True)
    model.save_pretrained(out)
    for name in PROCESSOR_FILES:
        if (Path(folder) / name).is_file():
            shutil.copyfile(Path(folder) / name, out / name)


def _publish(tmp: Path, target: Path) -> None:
    try:
        os.rename(tmp, target)
    except OSError:  # another process published the same export first
        if not (target / "model.onnx").is_file():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def load(folder: Path, ort_class: str, model_id: str, key: str):
    """The ORTModel for ``model_id`` (exported on first use), on onnxruntime's CPU provider.

    The session gets as many threads as torch is allowed (``torch.get_num_threads()``),
    so both backends share one CPU budget.
    """
    import onnxruntime
    import optimum.onnxruntime as ort
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return getattr(ort, ort_class).from_pretrained(str(exported(folder, ort_class, model_id, key)),
                                                   session_options=options)
