"""ONNX exports of transformers models, made once and kept on disk.

For the task types where it pays (encoder-only text models, image classifiers),
``exported()`` converts a model with optimum (``ORTModelFor….from_pretrained(folder,
export=True)``) and keeps the result under ``<home>/<org--name>/<key>/<class>``, where
the key is the snapshot's commit (or a digest of a plain folder's weights), so a new
revision gets a new export and an old one is never served for it.

``home`` is a value the expert is given, never looked up here: ``discover.register``
passes ``registry.settings.onnx_dir`` (``<data folder>/onnx``) to each
``TransformersExpert`` it makes. An expert built without one (no settings, e.g. a
library caller or a test) exports into ``scratch_dir()``, a temporary folder made
once per process and deleted when the process exits: the backend choice is the
same either way, only the export is not kept for the next start.

The export is written to a temporary folder beside the target and renamed into
place, so an interrupted export leaves no half model behind; the tokenizer and
processor files are copied in too, making the folder self-contained. An export
that fails leaves a ``FAILED`` note with the reason, so the next start goes straight
to torch instead of trying (and failing) again.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from ...errors import ExpertError

log = logging.getLogger(__name__)
# Files a tokenizer, image processor or feature extractor is made of.
PROCESSOR_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model",
                   "added_tokens.json", "preprocessor_config.json", "processor_config.json")


class OnnxExportError(ExpertError):
    """optimum could not export this model; torch runs it instead."""


_scratch: Path | None = None
_scratch_lock = threading.Lock()


def scratch_dir() -> Path:
    """A temporary export folder for experts given none; made on first use, removed at exit."""
    global _scratch
    with _scratch_lock:
        if _scratch is None:
            _scratch = Path(tempfile.mkdtemp(prefix="hgpt-onnx-"))
            atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
        return _scratch


def export_dir(home: Path | None, model_id: str, key: str, ort_class: str) -> Path:
    """Where ``model_id``'s export for ``ort_class`` lives under ``home`` (None: ``scratch_dir()``)."""
    return Path(home or scratch_dir()) / model_id.replace("/", "--") / key / ort_class


def available() -> bool:
    """Are optimum's ONNX Runtime classes and onnxruntime installed? (no import)"""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "optimum"))


def exported(folder: Path, ort_class: str, model_id: str, key: str, home: Path | None = None) -> Path:
    """The folder of ``model_id``'s ONNX export for ``ort_class`` under ``home``, exporting it on first use."""
    target = export_dir(home, model_id, key, ort_class)
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


def load(folder: Path, ort_class: str, model_id: str, key: str, home: Path | None = None):
    """The ORTModel for ``model_id`` (exported under ``home`` on first use), on onnxruntime's CPU provider.

    The session gets as many threads as torch is allowed (``torch.get_num_threads()``),
    so both backends share one CPU budget.
    """
    import onnxruntime
    import optimum.onnxruntime as ort
    import torch

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return getattr(ort, ort_class).from_pretrained(str(exported(folder, ort_class, model_id, key, home)),
                                                   session_options=options)
