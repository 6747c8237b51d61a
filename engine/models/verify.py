"""Check what is on disk against ``models.lock``.

``check_model`` hashes each locked file where it lives and gives one status per model:

* ``verified``: every file is present with the pinned size and sha256;
* ``missing``: a file is not on disk (the package is not installed, or not pulled);
* ``mismatch``: a file is there but its size or sha256 differs: corrupt, or replaced;
* ``unverifiable``: present, but the lock has no hash to compare with.

``require`` is what a loader calls before it reads weights: a mismatch or a missing
file raises ``ModelFileError`` with the command that fixes it, so a corrupt model is
refused instead of loaded. Hashes are remembered per (path, size, mtime, ctime, inode) for
the life of the process, so a second ``require`` costs a ``stat``; ``hgpt models
verify`` always recomputes.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelFileError
from . import paths
from .lock import Lock, ModelEntry, ModelFile, load_lock

log = logging.getLogger(__name__)
VERIFIED, MISSING, MISMATCH, UNVERIFIABLE = "verified", "missing", "mismatch", "unverifiable"
CHUNK = 1 << 20

_hash_cache: dict[tuple, str] = {}
_hash_lock = threading.Lock()


def sha256_file(path: Path, *, cached: bool = True) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if cached and key in _hash_cache:
        return _hash_cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


@dataclass
class FileCheck:
    file: ModelFile
    path: Path | None
    status: str
    sha256: str = ""
    size: int = 0


@dataclass
class ModelCheck:
    entry: ModelEntry
    files: list[FileCheck] = field(default_factory=list)
    detail: str = ""

    @property
    def status(self) -> str:
        states = {f.status for f in self.files}
        for status in (MISMATCH, MISSING, UNVERIFIABLE):
            if status in states:
                return status
        return VERIFIED if states else UNVERIFIABLE

    @property
    def installed(self) -> bool:
        return self.status in (VERIFIED, UNVERIFIABLE)

    def path_of(self, relative: str) -> Path:
        return next(f.path for f in self.files if f.file.path == relative and f.path)

    def message(self) -> str:
        """One line: what is wrong and the command that fixes it ('' when nothing is)."""
        name, hint = self.entry.name, self.entry.install_hint()
        bad = next((f for f in self.files if f.status == MISMATCH), None)
        if bad is not None:
            what = (f"size {bad.size:,} ≠ {bad.file.size:,}" if bad.file.size and bad.size != bad.file.size
                    else f"sha256 {bad.sha256[:12]}… ≠ {bad.file.sha256[:12]}…")
            extra = f" ({self.detail})" if self.detail else ""
            return (f"{name}: {bad.path} does not match models.lock ({what}){extra}; "
                    f"the file is corrupt or was replaced. Reinstall it: {hint}")
        gone = next((f for f in self.files if f.status == MISSING), None)
        if gone is not None:
            return f"{name} is not installed ({gone.file.path} is missing); install it: {hint}"
        return ""


def _check_file(entry: ModelEntry, file: ModelFile, cache_dir: Path | None, cached: bool) -> FileCheck:
    path = paths.file_path(entry, file, cache_dir)
    if path is None or not path.is_file():
        return FileCheck(file, path, MISSING)
    size = path.stat().st_size
    if file.size and size != file.size:
        return FileCheck(file, path, MISMATCH, size=size)
    if not file.sha256:
        return FileCheck(file, path, UNVERIFIABLE, size=size)
    digest = sha256_file(path, cached=cached)
    return FileCheck(file, path, VERIFIED if digest == file.sha256 else MISMATCH, digest, size)


def _installed_version(entry: ModelEntry) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(entry.package)
    except PackageNotFoundError:
        return ""


def joined_file(entry: ModelEntry) -> Path | None:
    """Where ``entry``'s joined file is, when it comes in parts and was joined: the folder
    the app carries it in (``<prefix>/share/hgpt/models``) or the data folder's models."""
    if entry.joined is None:
        return None
    from ..settings import default_home

    for folder in (paths.shared_models_dir(), default_home() / "models"):
        if (folder / entry.joined.path).is_file():
            return folder / entry.joined.path
    return None


def _joined_check(entry: ModelEntry, path: Path, cached: bool) -> FileCheck:
    j = entry.joined
    file = ModelFile(j.path, j.sha256, j.size)
    size = path.stat().st_size
    if size != j.size:
        return FileCheck(file, path, MISMATCH, size=size)
    digest = sha256_file(path, cached=cached)
    return FileCheck(file, path, VERIFIED if digest == j.sha256 else MISMATCH, digest, size)


def check_model(entry: ModelEntry, *, cache_dir: Path | None = None, cached: bool = False) -> ModelCheck:
    joined = joined_file(entry)
    if joined is not None:  # the joined file is what runs; its parts may be gone (the package drops them)
        return ModelCheck(entry, [_joined_check(entry, joined, cached)])
    check = ModelCheck(entry, [_check_file(entry, f, cache_dir, cached) for f in entry.files])
    if entry.kind == "pypi" and check.status == MISMATCH:
        installed = _installed_version(entry)
        if installed and installed != entry.version:
            check.detail = f"{entry.package} {installed} is installed; the lock pins {entry.version}"
    return check


def check_presence(entry: ModelEntry, *, cache_dir: Path | None = None) -> str:
    """A quick status without hashing: missing, mismatch (wrong size) or installed."""
    joined = joined_file(entry)
    if joined is not None:
        return "installed" if joined.stat().st_size == entry.joined.size else MISMATCH
    for file in entry.files:
        path = paths.file_path(entry, file, cache_dir)
        if path is None or not path.is_file():
            return MISSING
        if file.size and path.stat().st_size != file.size:
            return MISMATCH
    return "installed" if entry.files else UNVERIFIABLE


def verify(lock: Lock | None = None, names: list[str] | None = None, *,
           cache_dir: Path | None = None) -> list[ModelCheck]:
    """Recompute every hash (no cache) for the named models, or all of them."""
    lock = lock or load_lock()
    entries = [lock.get(n) for n in names] if names else list(lock)
    return [check_model(e, cache_dir=cache_dir, cached=False) for e in entries]


def refuse_if_tampered(model_id: str) -> None:
    """Before an expert loads: raise ``ModelFileError`` if the lock pins its files and one differs.

    Only a mismatch refuses; a missing file is left to the expert's own ``missing()``,
    which knows other places its weights may be.
    """
    try:
        entry = load_lock().find(model_id)
    except ModelFileError as exc:
        log.warning("models.lock unreadable, %s loads unverified: %s", model_id, exc)
        return
    if entry is None:
        return
    check = check_model(entry, cached=True)
    if check.status == MISMATCH:
        raise ModelFileError(check.message())


def require(name: str, *, lock: Lock | None = None, cache_dir: Path | None = None) -> ModelCheck:
    """The model's files, checked; raises ``ModelFileError`` if one is missing or does not match."""
    entry = (lock or load_lock()).get(name)
    check = check_model(entry, cache_dir=cache_dir, cached=True)
    if check.status in (MISMATCH, MISSING):
        raise ModelFileError(check.message())
    return check
