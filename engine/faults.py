"""An expert's failure as one line a user can act on, and what is cleaned up after it.

The executor catches whatever an expert raises (the run goes on without that task)
and asks ``describe`` for the message the run record and the answer show:

* ``MemoryError`` — the model ran out of memory; the executor unloads it, and the
  message says so and what to do (close programs, pick a smaller model);
* ``OSError`` with ``ENOSPC``/``EDQUOT`` — the disk (or quota) is full: "disk full",
  the file it was writing, and to free space;
* an ``HgptError`` already speaks to the user and passes through;
* anything else is ``Type: message`` on one line, clipped.

``remove_partial`` deletes what a failed task was writing: every path it was handed
by ``ExpertContext.output_path`` and the ``.<name>.tmp*`` siblings that the atomic
writers (``engine.experts.media``) use, so a failed task leaves no half file.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Iterable

from .errors import HgptError

log = logging.getLogger(__name__)
FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
MAX_MESSAGE = 300


def is_disk_full(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in FULL:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def describe(exc: BaseException, task: str, model_id: str) -> str:
    if isinstance(exc, MemoryError):
        return (f"{model_id} ran out of memory on {task} and was unloaded to free it; close other "
                "programs or choose a smaller model, then ask again")
    if is_disk_full(exc):
        where = getattr(exc, "filename", None)
        return (f"disk full: {task} could not write its output"
                f"{f' ({where})' if where else ''}; free some disk space and ask again")
    if isinstance(exc, HgptError):
        return _one_line(str(exc))
    return _one_line(f"{type(exc).__name__}: {exc}")


def storage_message(exc: BaseException, what: str) -> str:
    """One line for a failed write of ``what`` (a run folder, the history database)."""
    where = getattr(exc, "filename", None)
    where = f" ({where})" if where else ""
    if is_disk_full(exc) or "disk is full" in str(exc):
        return f"disk full: cannot write {what}{where}; free some disk space and try again"
    if isinstance(exc, PermissionError):
        return (f"permission denied writing {what}{where}; check the folder's permissions or choose "
                "another data folder (Settings, or HGPT_HOME)")
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _one_line(f"cannot write {what}{where}: {reason}; check the data folder and try again")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


PLAN_FAILURE_WORDS = ("dropped", "cut to", "removed", "unknown")


def plan_failures(repairs: Iterable[str]) -> list[str]:
    """The plan repairs that mean part of the request will not be done (a dropped task,
    a cut plan, a dangling reference), worded for the answer."""
    return [f"planning: {r}" for r in repairs if any(w in r for w in PLAN_FAILURE_WORDS)]


def remove_partial(paths: Iterable[Path]) -> list[Path]:
    """Delete the files a failed task was writing, and their temp siblings."""
    removed = []
    for path in map(Path, paths):
        candidates = [path, *path.parent.glob(f".{path.name}.tmp*")] if path.parent.is_dir() else [path]
        for candidate in candidates:
            try:
                candidate.unlink()
                removed.append(candidate)
            except FileNotFoundError:
                pass
            except OSError as exc:  # a file we cannot remove is reported, not fatal
                log.warning("could not remove partial file %s: %s", candidate, exc)
    return removed
