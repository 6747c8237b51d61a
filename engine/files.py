"""User attachments: checked before a run starts, copied into the run folder.

A file's modality comes from its suffix, confirmed by its first bytes where a
signature is known, so a text file named ``.wav`` is refused with a clear message
before any model sees it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import AttachmentError
from .execute import FILE_SUFFIXES

SIGNATURES = {
    "image": [b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*"],
    "audio": [b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\x00\x00\x00"],
}


def modality_of(path: Path) -> str:
    suffix = path.suffix.lower()
    for modality in ("image", "audio", "video"):
        if suffix in FILE_SUFFIXES[modality]:
            return modality
    known = sorted(s for v in FILE_SUFFIXES.values() for s in v)
    raise AttachmentError(f"{path.name}: unsupported file type {suffix or '(none)'}; attach one of {' '.join(known)}")


def check(path: str | Path) -> tuple[Path, str]:
    """The resolved path and modality of an attachment, or a clear ``AttachmentError``."""
    path = Path(path).expanduser()
    if not path.exists():
        raise AttachmentError(f"{path}: no such file; check the path and attach it again")
    if not path.is_file():
        raise AttachmentError(f"{path}: is a folder, not a file; attach a file")
    modality = modality_of(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise AttachmentError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
    if not head:
        raise AttachmentError(f"{path}: the file is empty (0 bytes); attach a real {modality} file")
    signatures = SIGNATURES.get(modality)
    if signatures and not any(head.startswith(s) for s in signatures):
        raise AttachmentError(f"{path}: does not look like an {modality} file; attach a real {modality} file")
    return path.resolve(), modality


def check_all(paths) -> list[tuple[Path, str]]:
    return [check(p) for p in paths]


def stage(checked: list[tuple[Path, str]], run_dir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Copy attachments into ``run_dir/inputs``; names are made unique."""
    inputs = run_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    modalities: dict[str, str] = {}
    for path, modality in checked:
        name, n = path.name, 1
        while name in paths:
            n += 1
            name = f"{path.stem}-{n}{path.suffix}"
        target = inputs / name
        shutil.copyfile(path, target)
        paths[name], modalities[name] = target, modality
    return paths, modalities
