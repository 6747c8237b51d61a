"""A model's files on this machine: an explicit folder or the Hugging Face cache.

Nothing here touches the network. A model named by its Hub id is looked up in the
cache the way the Hub client lays it out (``models--org--name/snapshots/<commit>``,
a branch resolved through ``refs/<branch>``) with
``huggingface_hub.try_to_load_from_cache``, which reads the file system only. The
cache folder is ``engine.models.paths.hf_cache_dir()``, read from the environment at
call time, so tests and users can move it after start-up.

The same module reads what a folder says about itself — ``config.json``, the
README's front matter, which weight format it ships — and computes the key the
ONNX export cache uses: the snapshot's commit, or a digest of the weight files'
names, sizes and times for a plain folder.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ...errors import ModelFileError
from ...models.paths import hf_cache_dir

# The first file found decides the snapshot folder; diffusers pipelines have no config.json.
MARKERS = ("config.json", "model_index.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".onnx", ".pt", ".pth", ".ckpt")


def find_snapshot(model_id: str, revision: str | None = None, cache: Path | None = None) -> Path | None:
    """The cached snapshot folder of ``model_id`` at ``revision`` (default: main), or None."""
    cache = Path(cache) if cache else hf_cache_dir()
    if not (cache / ("models--" + model_id.replace("/", "--"))).is_dir():
        return None
    from huggingface_hub import try_to_load_from_cache

    for marker in MARKERS:
        try:
            found = try_to_load_from_cache(model_id, marker, cache_dir=str(cache), revision=revision)
        except (ValueError, OSError):  # a malformed id or cache entry
            return None
        if isinstance(found, str):
            return Path(found).parent
    return None


def model_folder(model_id: str, revision: str | None = None, path: str | Path | None = None) -> Path:
    """The folder holding ``model_id``'s files, or a ``ModelFileError`` saying how to get them."""
    if path is not None:
        folder = Path(path).expanduser()
        if not any((folder / m).is_file() for m in MARKERS):
            raise ModelFileError(f"{folder} holds no config.json or model_index.json; "
                                 f"point hgpt at the folder a model was saved to with save_pretrained")
        return folder
    folder = find_snapshot(model_id, revision)
    if folder is None:
        at = f" at revision {revision}" if revision else ""
        raise ModelFileError(f"{model_id}{at} is not in the Hugging Face cache ({hf_cache_dir()}); "
                             f"get it with: hgpt models pull {model_id}")
    return folder


def read_json(path: Path) -> dict:
    """A JSON object from ``path``; {} when absent or unreadable (callers decide what is required)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_card(folder: Path) -> dict:
    """The README's YAML front matter (pipeline_tag, tags, license, base_model …)."""
    from ...catalog.cards import read_card_text

    readme = Path(folder) / "README.md"
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    return read_card_text(text)[0]


def weight_format(folder: Path) -> str | None:
    """"safetensors" when the folder ships safetensors weights, "bin" for torch pickles only, else None."""
    names = [p.name for p in Path(folder).iterdir()] if Path(folder).is_dir() else []
    if any(n.endswith(".safetensors") or n == "model.safetensors.index.json" for n in names):
        return "safetensors"
    if any(n.endswith(".bin") and "pytorch_model" in n for n in names):
        return "bin"
    return None


def folder_size_mb(folder: Path) -> float:
    """Megabytes of weight files in ``folder`` (links into ``blobs/`` are followed)."""
    total = 0
    for p in Path(folder).rglob("*"):
        if p.suffix in WEIGHT_SUFFIXES and p.is_file():
            total += p.stat().st_size
    return total / 1e6


def content_key(folder: Path) -> str:
    """A stable key for the weights in ``folder``: the snapshot commit, else a digest."""
    folder = Path(folder)
    if folder.parent.name == "snapshots" and len(folder.name) == 40:
        return folder.name
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name == "config.json"):
            st = p.stat()
            h.update(f"{p.relative_to(folder)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
