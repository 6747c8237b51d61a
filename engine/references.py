"""What a plan's file arguments may point at: the user's attachments and earlier outputs.

A plan is written by a model, and a review can edit it, so its arguments are
untrusted. A file slot (image, audio, video) is resolved here, and only to:

* an attachment, named as the planner saw it (``chelsea.png``) or by a relative
  path whose last part is that name (``samples/chelsea.png``) — the value always
  becomes the staged copy in the run folder, never the path as written;
* the output of an earlier task (``<resource>-N``), which must be a file of the
  slot's modality inside the run folder.

Everything else is refused with an ``ExpertError`` that says what a plan may use:
absolute paths (``/etc/passwd``), ``..`` and ``~`` (``../../x``, ``~/.ssh/id_rsa``),
URLs and ``file:`` URIs (offline mode adds that nothing is downloaded), a name
that was not attached, and an attachment of the wrong modality (a recording given
to an image task). The executor calls these; nothing here touches a file's bytes.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Mapping

from .errors import ExpertError
from .files import modalities_of
from .text import clip

URL_RE = re.compile(r"^[a-z][a-z0-9+.\-]+:(//|/)", re.IGNORECASE)  # two letters at least: not C:/
SCHEMES = ("data:", "http:", "https:", "ftp:", "s3:", "gs:", "hf:")


def is_url(value: str) -> bool:
    """A network address (``file:`` URIs are paths, and are refused as such)."""
    text = value.strip()
    if text.lower().startswith("file:"):
        return False
    return bool(URL_RE.match(text)) or text.lower().startswith(SCHEMES)


def _outside(value: str) -> bool:
    """An absolute path, a ``file:`` URI, a home-relative path, a drive, or ``..``."""
    text = value.strip()
    if text.lower().startswith("file:"):
        return True
    if text.startswith(("~", "/", "\\")) or PureWindowsPath(text).drive:
        return True
    parts = set(PurePosixPath(text.replace("\\", "/")).parts)
    return ".." in parts


def _allowed(attachments: Mapping[str, Path]) -> str:
    return ", ".join(attachments) or "none"


def resolve_attachment(value: str, modality: str, attachments: Mapping[str, Path], *,
                       key: str = "", task: str = "", offline: bool = True) -> Path:
    """The staged attachment ``value`` names, checked against the slot's modality."""
    text = str(value).strip()
    path = attachments.get(text)
    if path is None:
        path = _by_name(text, modality, attachments, offline)
    kinds = modalities_of(path)
    if kinds and modality not in kinds:
        what = f"{task}'s {key!r}" if task and key else "this task"
        raise ExpertError(f"{path.name} is {'/'.join(sorted(kinds))}, but {what} needs {_a(modality)}; "
                          f"attach {_a(modality)} file for it")
    return path


def _by_name(text: str, modality: str, attachments: Mapping[str, Path], offline: bool) -> Path:
    if is_url(text):
        why = ("offline mode is on, so hgpt downloads nothing" if offline
               else "hgpt does not download files a plan names")
        raise ExpertError(f"{clip(text)!r} is a URL and {why}; save the {modality} and attach it "
                          f"(attached: {_allowed(attachments)})")
    if _outside(text):
        raise ExpertError(f"{clip(text)!r} is not an attached file: a plan may only use your attachments "
                          f"and earlier tasks' outputs (attached: {_allowed(attachments)}); "
                          f"attach the {modality} and ask again")
    name = PurePosixPath(text.replace("\\", "/")).name
    if name in attachments:
        return attachments[name]
    raise ExpertError(f"{clip(text)!r} is not an attached file (attached: {_allowed(attachments)}); "
                      f"attach the {modality} and ask again")


def check_output(path: Path, modality: str, run_dir: Path | None, source: int) -> Path:
    """An earlier task's file handed to a later one: inside the run folder, right modality."""
    path = Path(path)
    if run_dir is not None and not _inside(path, run_dir):
        raise ExpertError(f"task {source} returned {path}, which is outside this run's folder; "
                          "hgpt only passes on files a task wrote in the run folder")
    kinds = modalities_of(path)
    if kinds and modality not in kinds:
        raise ExpertError(f"task {source} produced {'/'.join(sorted(kinds))} ({path.name}), "
                          f"not {_a(modality)}; the plan connects tasks that do not fit")
    return path


def _inside(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def _a(modality: str) -> str:
    return ("an " if modality[:1] in "aeiou" else "a ") + modality


