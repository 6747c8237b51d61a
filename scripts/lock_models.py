#!/usr/bin/env python3
"""Regenerate the PyPI entries of models.lock from the installed packages.

For each ``source = "pypi:package==version"`` entry, the ``include`` globs (relative
to site-packages) are expanded against the installed files and each file's path,
size and sha256 are written back, with ``verified = true``. An entry whose package
is not installed, or is installed at another version than the lock pins, is left as
it is and reported. Hugging Face entries are never touched (their hashes need the
network). ``--check`` changes nothing and exits 1 if the lock is out of date, for CI.

    .venv/bin/python scripts/lock_models.py            # rewrite models.lock
    .venv/bin/python scripts/lock_models.py --check    # is models.lock current?
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.models.lock import Lock, ModelEntry, ModelFile, dump_lock, load_lock  # noqa: E402
from engine.models.paths import module_dir  # noqa: E402
from engine.models.verify import sha256_file  # noqa: E402


def _files(pattern: str) -> list[Path] | None:
    folder = module_dir(pattern.split("/", 1)[0])
    if folder is None:
        return None
    root = folder.parent
    found = [p for p in root.glob(pattern) if p.is_file() and "__pycache__" not in p.parts
             and not p.name.startswith(".") and p.suffix not in (".py", ".pyc")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def expand(entry: ModelEntry) -> tuple[ModelEntry, str]:
    """The entry with its files recomputed, and a note ('' when all went well)."""
    for requirement in entry.requirements:
        package, _, pinned = requirement.partition("==")
        try:
            installed = version(package)
        except PackageNotFoundError:
            return entry, f"{package} is not installed; kept as locked"
        if installed != pinned:
            return entry, f"{package} {installed} is installed but the lock pins {pinned}; kept as locked"
    files: list[ModelFile] = []
    for pattern in entry.include:
        paths = _files(pattern)
        if not paths:
            return entry, f"nothing installed matches {pattern!r}; kept as locked"
        root = module_dir(pattern.split("/", 1)[0]).parent
        files += [ModelFile(p.relative_to(root).as_posix(), sha256_file(p, cached=False), p.stat().st_size)
                  for p in paths]
    return replace(entry, files=tuple(files), verified=True), ""


def regenerate(lock: Lock) -> tuple[Lock, list[str]]:
    entries, notes = {}, []
    for entry in lock:
        if entry.kind == "pypi" and entry.include:
            entry, note = expand(entry)
            if note:
                notes.append(f"{entry.name}: {note}")
        entries[entry.name] = entry
    return Lock(entries, lock.path, lock.version), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "models.lock")
    parser.add_argument("--check", action="store_true", help="exit 1 if the lock is out of date")
    args = parser.parse_args(argv)
    lock = load_lock(args.lock)
    new, notes = regenerate(lock)
    for note in notes:
        print(f"lock_models: {note}", file=sys.stderr)
    text = dump_lock(new)
    if args.check:
        current = args.lock.read_text(encoding="utf-8")
        if current != text:
            print(f"lock_models: {args.lock} is out of date; run scripts/lock_models.py", file=sys.stderr)
            return 1
        print(f"lock_models: {args.lock} is current ({len(new)} models)")
        return 0
    tmp = args.lock.with_name(f".{args.lock.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.lock)
    pinned = sum(1 for e in new if e.kind == "pypi" and e.verified)
    print(f"lock_models: wrote {args.lock}: {len(new)} models, {pinned} PyPI packs hashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
