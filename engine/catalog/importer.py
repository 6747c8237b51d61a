"""Import model cards from a file into the catalog.

Two layouts are read, told apart by the first character: JSON Lines (one card per
line — the HuggingGPT reference implementation's ``p0_models.jsonl``, or Hub
``list_models`` records one per line) and a JSON array (a saved Hub API answer).
Any card shape ``cards.normalize`` knows is accepted in either.

A malformed line (not JSON, not an object, no id, a field of the wrong type) is
recorded with its line number and skipped; the rest is imported. A small file is
written in batches, each one transaction, so readers see the catalog grow and an
interrupted import keeps what it finished. A large file (over ``BULK_BYTES``) is
loaded in one transaction through ``Catalog.bulk``, which rebuilds the indexes
once at the end instead of row by row — several times faster, all or nothing;
readers keep answering from the previous catalog meanwhile (WAL).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..errors import UserInputError
from .cards import CardError, normalize

BATCH = 5000
BULK_BYTES = 32 * 1024 * 1024


@dataclass
class ImportReport:
    path: str
    layout: str = "jsonl"
    imported: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    seconds: float = 0.0

    def summary(self, show: int = 10) -> str:
        lines = [f"imported {self.imported:,} cards from {self.path} in {self.seconds:.1f} s"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped):,} malformed {self._where()}(s):")
            lines += [f"  {self._where()} {n}: {why}" for n, why in self.skipped[:show]]
            if len(self.skipped) > show:
                lines.append(f"  … and {len(self.skipped) - show:,} more")
        return "\n".join(lines)

    def _where(self) -> str:
        return "line" if self.layout == "jsonl" else "item"


def import_file(catalog, path: str | Path, *, batch: int = BATCH, source: str | None = None,
                bulk: bool | None = None, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import every readable card of ``path``; ``progress(n)`` is told after each batch.

    ``bulk`` None chooses by size (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path} does not exist; give the path of a .jsonl or .json file of model cards")
    if bulk is None:
        bulk = path.stat().st_size > BULK_BYTES
    with (catalog.bulk() if bulk else contextlib.nullcontext()):
        return _import(catalog, path, batch, source, progress)


def _import(catalog, path: Path, batch: int, source: str | None,
            progress: Callable[[int], None] | None) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport(str(path), layout=_layout(path))
    synced = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    source = source or f"import:{path.name}"
    rows: list[dict] = []
    for number, record in _records(path, report.layout):
        if isinstance(record, str):
            report.skipped.append((number, record))
            continue
        try:
            rows.append(normalize(record, source, synced))
        except CardError as exc:
            report.skipped.append((number, str(exc)))
        if len(rows) >= batch:
            report.imported += catalog.upsert_rows(rows)
            rows = []
            if progress:
                progress(report.imported)
    if rows:
        report.imported += catalog.upsert_rows(rows)
        if progress:
            progress(report.imported)
    report.seconds = time.perf_counter() - started
    return report


def _layout(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head.startswith(b"[") else "jsonl"


def _records(path: Path, layout: str) -> Iterator[tuple[int, dict | str]]:
    """(line or item number, the parsed record — or a string saying why it is unusable)."""
    if layout == "json":
        try:
            items = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserInputError(f"{path} is not valid JSON ({exc}); give a JSON array or JSON Lines") from None
        yield from enumerate(items, start=1)
        return
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON ({exc.msg} at column {exc.colno})"
