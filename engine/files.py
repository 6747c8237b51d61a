"""Files: the one table of file kinds, and user attachments.

``FILE_SUFFIXES`` says which suffixes make a file an image, audio or video (``.gif``
is an image first, and may be a video); every other module that needs a file's
kind asks here (``modality_of``, ``modalities_of``, ``SUFFIX_MODALITY``).

Attachments are checked before a run starts and copied into the run folder. A
file's modality comes from its suffix, confirmed by its first bytes where a
signature is known, so a text file named ``.wav`` is refused with a clear message
before any model sees it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .errors import AttachmentError

MODALITY_ORDER = ("image", "audio", "video", "text")  # a suffix in two lists takes the first
FILE_SUFFIXES = {
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"),
    "audio": (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac"),
    "video": (".mp4", ".webm", ".avi", ".mov", ".mkv", ".gif"),
    "text": (".txt", ".md"),  # a text slot takes the file's words (read when the task runs)
}
# what people call a file of each kind in a request ("translate the memo", "this photo")
FILE_NOUNS = {
    "image": r"photo|picture|image|pic|screenshot|scan|selfie|snapshot|shot|sign|poster|menu|page|receipt|flyer|label|card|form|chart|slide|whiteboard",
    "audio": r"recording|memo|voice ?(?:note|memo|message|mail)|audio|clip|call|podcast|interview|lecture|song|track",
    "text": r"notes?|document|doc|letter|e-?mail|essay|article|recipe|report|script|draft|transcript|file",
}
# words that bring sound into a request: without one of them and without an audio file, a
# task that works on a recording has nothing to work on ("enhance each segment for clarity")
SOUND_WORDS = re.compile(rf"\b(?:{FILE_NOUNS['audio']}|sound|speech|spoken|speak\w*|voice|listen\w*|hear\w*|music|"
                         r"noise|noisy|aloud|out loud|say|says|said|saying|narrat\w*|tone|mp3|wav|m4a|ogg|flac)s?\b",
                         re.IGNORECASE)
# a recording's words named by who speaks them: "what she says", "what the caller said", "his words"
SPOKEN_WORDS = re.compile(r"\bwhat\s+(?:he|she|they|you|we|i|(?:the|this|that|my|your)\s+\w+)\s+(?:says|said|say|"
                          r"(?:is|are|was|were)\s+saying|'s\s+saying|'re\s+saying)\b|\b(?:his|her|their)\s+words\b",
                          re.IGNORECASE)
TEXT_LIMIT = 1_000_000  # characters of an attached text file a task reads
SUFFIX_MODALITY: dict[str, str] = {}  # ".png" -> "image": each suffix's first modality
for _modality in MODALITY_ORDER:
    for _suffix in FILE_SUFFIXES[_modality]:
        SUFFIX_MODALITY.setdefault(_suffix, _modality)
SIGNATURES = {
    "image": [b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*"],
    "audio": [b"RIFF", b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xf1",
              b"\xff\xf9", b"\x00\x00\x00"],
}


def modalities_of(path: str | Path) -> set[str]:
    """The modalities a file's suffix allows (``.gif`` is both image and video)."""
    suffix = Path(str(path)).suffix.lower()
    return {m for m, suffixes in FILE_SUFFIXES.items() if suffix in suffixes}


def modality_of(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in SUFFIX_MODALITY:
        return SUFFIX_MODALITY[suffix]
    raise AttachmentError(f"{Path(path).name}: unsupported file type {suffix or '(none)'}; "
                          f"attach one of {' '.join(sorted(SUFFIX_MODALITY))}")


def dialog_filter(modalities=("image", "audio", "text")) -> str:
    """A file-dialog filter for the kinds a user may attach, e.g. ``Images and audio (*.png …)``."""
    patterns = " ".join(f"*{s}" for m in modalities for s in FILE_SUFFIXES[m] if SUFFIX_MODALITY[s] == m)
    names = {"image": "Images", "audio": "audio", "video": "video", "text": "text"}
    return f"{' and '.join(names[m] for m in modalities)} ({patterns})"


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
            head = fh.read(4096)
    except OSError as exc:
        raise AttachmentError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
    if not head:
        raise AttachmentError(f"{path}: the file is empty (0 bytes); attach a real {modality} file")
    signatures = SIGNATURES.get(modality)
    if signatures and not any(head.startswith(s) for s in signatures):
        raise AttachmentError(f"{path}: does not look like an {modality} file; attach a real {modality} file")
    if modality == "text" and not _is_text(head):
        raise AttachmentError(f"{path}: does not look like a text file (not UTF-8 text); attach a plain text file")
    return path.resolve(), modality


def _is_text(head: bytes) -> bool:
    """Does a file's start read as UTF-8 text?"""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a character cut at the end of the sample is fine
        return exc.start >= len(head) - 3
    return True


def read_text(path: Path) -> str:
    """An attached text file's words, for a text slot (at most ``TEXT_LIMIT`` characters)."""
    with Path(path).open(encoding="utf-8", errors="replace") as fh:
        return fh.read(TEXT_LIMIT).strip()


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
