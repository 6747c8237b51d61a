"""Process set-up shared by the packaged app's two entry points.

Inside a PyInstaller bundle the code lives in ``sys._MEIPASS`` (``/opt/hgpt/_internal``
once installed) instead of a source checkout, so the few paths hgpt finds relative to
its source tree are pointed at the copies the bundle carries. Environment variables
the user set always win. Outside a bundle (running the entry scripts from the
checkout) this does nothing.

The bootloader puts the bundle's library folder on ``LD_LIBRARY_PATH`` (keeping the
user's value in ``LD_LIBRARY_PATH_ORIG``). The dynamic loader read it when the process
started, so restoring the original now changes nothing for hgpt itself, but programs
it starts — espeak-ng for the voice, xdg-open for a result file — then load the
system's libraries rather than the bundle's copies of Qt or libstdc++.
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
    _restore_library_path()
    lock = base / "models.lock"
    if lock.exists():
        os.environ.setdefault("HGPT_MODELS_LOCK", str(lock))
    # No telemetry or update checks from the model libraries of an offline app.
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    return base


def _restore_library_path() -> None:
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        original = os.environ.pop(f"{var}_ORIG", None)
        if original is not None:
            os.environ[var] = original
        elif var in os.environ and getattr(sys, "_MEIPASS", None) in os.environ[var].split(os.pathsep):
            del os.environ[var]
