"""Files in and out of the API: uploads become files, run files become URLs.

In: a file reaches the engine only as bytes the client sent — a ``data:`` URL, plain
base64, a multipart or raw upload. Anything that names a place instead (a server
path, ``../``, ``file:``, ``~``, an ``http(s)`` URL) is refused with ``Refused``,
on loopback too: the API must not become a way to read this machine's files or to
reach the network. Decoded files are written into a folder the request owns, under
names the server makes (``upload-1.png``), each within the size limit; the engine
then checks their first bytes like any attachment.

Out: ``RunFiles`` maps a run's files to ``/v1/files/<run id>/<name>`` URLs (and
``hgpt://runs/<run id>/<name>`` URIs for MCP) and back. Only a media or text file directly
in a run folder, or in its ``inputs``, under the data folder's ``runs``, can be
named; nothing else in the data folder can.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

from engine import errors, modality_of


class Refused(errors.UserInputError):
    """A request named a file instead of sending it, or sent too much."""


class TooLarge(Refused):
    pass


MIME_SUFFIX = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/gif": ".gif",
    "image/webp": ".webp", "image/bmp": ".bmp", "image/tiff": ".tif",
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
    "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/mpeg": ".mp3", "audio/mp3": ".mp3",
    "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "text/plain": ".txt", "text/markdown": ".md", "text/x-markdown": ".md",
}
SUFFIX_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff",
               ".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
               ".m4a": "audio/mp4", ".aac": "audio/aac", ".mp4": "video/mp4", ".webm": "video/webm",
               ".avi": "video/x-msvideo", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
               ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8"}
AUDIO_FORMATS = {"wav": ".wav", "mp3": ".mp3", "flac": ".flac", "ogg": ".ogg", "m4a": ".m4a", "aac": ".aac"}
SIGNATURES = [(b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
              (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"), (b"fLaC", ".flac"), (b"OggS", ".ogg"),
              (b"ID3", ".mp3"), (b"\xff\xfb", ".mp3"), (b"\xff\xf3", ".mp3")]
DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*)(?P<b64>;base64)?,",
                      re.IGNORECASE)
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
HOW = "send the file itself: a data: URL (data:image/png;base64,…), base64, or an upload"


def size(n: float) -> str:
    """A byte count in words: 20 MB, 10 KB."""
    return f"{n / 2**20:.3g} MB" if n >= 2**20 else f"{n / 2**10:.3g} KB"


def sniff_suffix(data: bytes) -> str:
    """The suffix a file's first bytes say it has ('' when they say nothing known)."""
    if data[:4] == b"RIFF":
        return ".webp" if data[8:12] == b"WEBP" else ".wav"
    for magic, suffix in SIGNATURES:
        if data.startswith(magic):
            return suffix
    if data[4:8] == b"ftyp":
        return ".m4a" if data[8:11] in (b"M4A", b"M4B") else ".mp4"
    return ""


def refuse_reference(value: str, what: str = "a file") -> None:
    """Raise ``Refused`` if ``value`` names a place rather than carrying the file."""
    text = value.strip()
    lowered = text[:16].lower()
    if lowered.startswith(("http://", "https://", "ftp://")):
        raise Refused(f"{what} is a URL ({text[:60]}); hgpt does not fetch URLs (it stays offline); {HOW}")
    if lowered.startswith("file:") or text.startswith(("/", "~", "\\", "./", "../")) or "/../" in text \
            or re.match(r"^[A-Za-z]:[\\/]", text):
        raise Refused(f"{what} is a path on this machine ({text[:60]}); the API does not read server "
                      f"files; {HOW}")


def decode(value: str, *, what: str = "a file", limit: int, suffix_hint: str = "") -> tuple[bytes, str]:
    """The bytes and suffix of a ``data:`` URL or plain base64 string."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(f"{what} is empty; {HOW}")
    text = value.strip()
    mime = ""
    match = DATA_URL.match(text)
    if match:
        mime = (match.group("mime") or "").lower()
        payload = text[match.end():]
        if not match.group("b64"):
            raise Refused(f"{what}: a data: URL must be base64 (data:{mime or 'image/png'};base64,…)")
    else:
        refuse_reference(text, what)
        payload = text
    if len(payload) > limit * 4 // 3 + 8:
        raise TooLarge(f"{what} is over {size(limit)}; a file may be at most {size(limit)}")
    try:
        data = base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{what} is not valid base64; {HOW}") from None
    if not data:
        raise Refused(f"{what} is empty (0 bytes)")
    if len(data) > limit:
        raise TooLarge(f"{what} is {size(len(data))}; a file may be at most {size(limit)}")
    suffix = MIME_SUFFIX.get(mime) or sniff_suffix(data) or suffix_hint
    if not suffix:
        raise Refused(f"{what}: cannot tell what kind of file it is; send it as a data: URL with its "
                      "type (data:image/png;base64,…, data:text/plain;base64,…) or as PNG/JPEG/WAV/FLAC/MP3")
    return data, suffix


class Uploads:
    """A folder of files a request sent, removed when the request is done."""

    def __init__(self, limit: int, max_files: int, folder: Path | None = None):
        self.limit, self.max_files = limit, max_files
        self._owned = folder is None
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="hgpt-upload-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []

    def add_bytes(self, data: bytes, suffix: str, stem: str = "") -> Path:
        if len(self.paths) >= self.max_files:
            raise TooLarge(f"a request may carry at most {self.max_files} files")
        if len(data) > self.limit:
            raise TooLarge(f"a file is {size(len(data))}; a file may be at most {size(self.limit)}")
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix or "") else (sniff_suffix(data) or ".bin")
        stem = re.sub(r"[^A-Za-z0-9_-]", "-", stem or "")[:40].strip("-")
        path = self.folder / (f"{stem}{suffix}" if stem else f"upload-1{suffix}")
        n = 1
        while path.exists():
            n += 1
            path = self.folder / f"{stem or 'upload'}-{n}{suffix}"
        path.write_bytes(data)
        self.paths.append(path)
        return path

    def add_encoded(self, value: str, what: str = "a file", suffix_hint: str = "", stem: str = "") -> Path:
        data, suffix = decode(value, what=what, limit=self.limit, suffix_hint=suffix_hint)
        return self.add_bytes(data, suffix, stem)

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Uploads":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RunFiles:
    """Files of runs under ``runs_dir``, as URLs (``base`` + /v1/files/…) and hgpt:// URIs."""

    URI_PREFIX = "hgpt://runs/"

    def __init__(self, runs_dir: Path, base: str = ""):
        self.runs_dir = Path(runs_dir)
        self.base = base.rstrip("/")

    def relative(self, path: str | Path) -> tuple[str, str] | None:
        """``(run id, name)`` of a file inside a run folder, or None for anything else."""
        try:
            rel = Path(path).resolve().relative_to(self.runs_dir.resolve())
        except (ValueError, OSError):
            return None
        parts = rel.parts
        if len(parts) < 2 or not RUN_ID.fullmatch(parts[0]):
            return None
        return parts[0], "/".join(parts[1:])

    def url(self, path: str | Path) -> str:
        found = self.relative(path)
        if found is None:
            return ""
        run_id, name = found
        return f"{self.base}/v1/files/{run_id}/{quote(name)}"

    def uri(self, path: str | Path) -> str:
        found = self.relative(path)
        return f"{self.URI_PREFIX}{found[0]}/{quote(found[1])}" if found else ""

    def resolve(self, run_id: str, name: str) -> Path:
        """The file ``name`` of run ``run_id``, or ``Refused``/``FileNotFoundError``.

        Only media and text files directly in the run folder or in its ``inputs`` folder; no
        hidden file, no ``..``, no link out of the folder."""
        name = unquote(name)
        if not RUN_ID.fullmatch(run_id or ""):
            raise FileNotFoundError(f"no run {run_id!r}")
        parts = name.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") or "\\" in p for p in parts) or \
                len(parts) > 2 or (len(parts) == 2 and parts[0] != "inputs"):
            raise Refused(f"{name!r} is not a file of run {run_id}; only its outputs and inputs/ are served")
        try:
            modality_of(Path(parts[-1]))
        except errors.AttachmentError:
            raise Refused(f"{name!r} is not an image, audio, video or text file; only those are served") from None
        folder = (self.runs_dir / run_id).resolve()
        path = (folder / name).resolve()
        if folder.parent != self.runs_dir.resolve() or not path.is_relative_to(folder) or path == folder:
            raise Refused(f"{name!r} is outside run {run_id}")
        if not path.is_file():
            raise FileNotFoundError(f"run {run_id} has no file {name!r}")
        return path

    def from_reference(self, value: str) -> Path | None:
        """A run file named by one of our own URLs or hgpt:// URIs (earlier results), else None."""
        text = value.strip()
        for prefix in (self.URI_PREFIX, f"{self.base}/v1/files/", "/v1/files/"):
            if prefix and text.startswith(prefix):
                rest = text[len(prefix):].split("?", 1)[0]
                run_id, _, name = rest.partition("/")
                return self.resolve(run_id, name)
        return None

    def rewrite(self, text: str, paths, *, relative: bool = False) -> str:
        """``text`` with every run file path in ``paths`` replaced by its URL."""
        pairs = []
        for path in paths:
            url = self.url(path)
            if url:
                pairs.append((str(path), url[len(self.base):] if relative else url))
        for path, url in sorted(pairs, key=lambda p: -len(p[0])):
            text = text.replace(path, url)
        return text


def media_type(path: Path) -> str:
    return SUFFIX_MIME.get(path.suffix.lower(), "application/octet-stream")
