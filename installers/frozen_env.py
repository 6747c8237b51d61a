"""Process set-up shared by the packaged app's two entry points.

Inside a PyInstaller bundle the code lives in ``sys._MEIPASS`` (``/opt/hgpt/_internal``
once installed) instead of a source checkout, so the few paths hgpt finds relative to
its source tree are pointed at the copies the bundle carries. Environment variables
the user set always win. Outside a bundle (running the entry scripts from the
checkout) this does nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path


def bundle_dir() -> Path | None:
    """The folder holding the bundled code and data, or None when not frozen."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if getattr(sys, "frozen", False) and base else None


def prepare() -> Path | None:
    multiprocessing.freeze_support()
    base = bundle_dir()
    if base is None:
        return None
    lock = base / "models.lock"
    if lock.exists():
        os.environ.setdefault("HGPT_MODELS_LOCK", str(lock))
    # No telemetry or update checks from the model libraries of an offline app.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return base
