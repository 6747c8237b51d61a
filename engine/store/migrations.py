"""Numbered, transactional schema migrations, in the manner of sqlite-utils'.

A ``Migrations`` set holds functions registered with ``@migrations(number)``; each
takes a plain ``sqlite3.Connection`` and changes the schema (or the data). ``apply(conn)``
runs the ones not yet recorded in the ``_migrations`` table, in number order, each
inside its own ``BEGIN IMMEDIATE`` transaction together with the row that records
it — so a migration that raises leaves no trace and stays pending, applying twice
is a no-op, and a second process opening the same file at once waits for the
first and then skips what it did. Numbers must be unique and names too; a
duplicate is refused when it is registered, not discovered later in a user's
database. ``apply(conn, until=N)`` stops after number N (tests use it to build a
file as an older release left it).

A file that records a migration this set does not know was written by a newer
hgpt; ``apply`` refuses it with ``NewerDatabaseError`` before changing anything,
so a file is never downgraded.

The connection must be in autocommit mode (``isolation_level=None``), as
``SQLiteFile`` opens them: this module issues ``BEGIN IMMEDIATE``/``COMMIT``
itself, which makes DDL transactional too. A migration that runs a script should
use ``sqlite.run_script`` (``executescript`` would commit the transaction).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import HgptError
from .sqlite import table_exists

TABLE = "_migrations"


class NewerDatabaseError(HgptError, RuntimeError):
    """The file was written by a newer hgpt: it records migrations this one does not know."""

    def __init__(self, path: str | Path, unknown: Iterable, advice: str = "update hgpt"):
        self.path, self.unknown = Path(path), sorted(unknown)
        super().__init__(f"{self.path} was written by a newer hgpt (migrations "
                         f"{', '.join(map(str, self.unknown))} are unknown to this one); {advice}")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    fn: Callable[[sqlite3.Connection], None]


class Migrations:
    def __init__(self, table: str = TABLE):
        self.table = table
        self._by_number: dict[int, Migration] = {}

    def __call__(self, number: int, name: str | None = None) -> Callable:
        """Decorator: register ``fn`` as migration ``number``."""
        def register(fn: Callable) -> Callable:
            label = name or fn.__name__
            if number in self._by_number:
                raise ValueError(f"migration {number} is already registered "
                                 f"({self._by_number[number].name}); pick the next free number")
            if any(m.name == label for m in self._by_number.values()):
                raise ValueError(f"a migration named {label!r} is already registered")
            self._by_number[number] = Migration(number, label, fn)
            return fn
        return register

    @property
    def all(self) -> list[Migration]:
        return [self._by_number[n] for n in sorted(self._by_number)]

    def applied(self, conn: sqlite3.Connection) -> list[int]:
        """The numbers recorded in the file, in order (known or not)."""
        if not table_exists(conn, self.table):
            return []
        return [r[0] for r in conn.execute(f"SELECT number FROM [{self.table}] ORDER BY number")]

    def unknown(self, conn: sqlite3.Connection) -> list[int]:
        """Numbers the file records that this set does not know (a newer hgpt wrote them)."""
        return [n for n in self.applied(conn) if n not in self._by_number]

    def pending(self, conn: sqlite3.Connection, until: int | None = None) -> list[Migration]:
        done = set(self.applied(conn))
        return [m for m in self.all if m.number not in done and (until is None or m.number <= until)]

    def check(self, conn: sqlite3.Connection) -> None:
        """Raise ``NewerDatabaseError`` if the file records a migration this set does not know."""
        unknown = self.unknown(conn)
        if unknown:
            raise NewerDatabaseError(_file_of(conn), unknown)

    def apply(self, conn: sqlite3.Connection, until: int | None = None) -> list[str]:
        """Apply pending migrations (up to number ``until``); returns the names applied.
        A file written by a newer hgpt is refused (``NewerDatabaseError``), untouched."""
        self.check(conn)
        pending = self.pending(conn, until)
        if not pending:  # the common case: cheap reads, no write lock
            return []
        self._ensure_table(conn)
        names = []
        for migration in pending:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-checked under the write lock: another process may have just applied it.
                if conn.execute(f"SELECT 1 FROM [{self.table}] WHERE number = ?",
                                (migration.number,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                migration.fn(conn)
                self._record(conn, migration)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            names.append(migration.name)
        return names

    def record(self, conn: sqlite3.Connection, numbers: Iterable[int]) -> None:
        """Record migrations as applied without running them: for adopting a file whose
        schema an earlier scheme already built. Call it inside the caller's transaction."""
        self._ensure_table(conn)
        for number in numbers:
            self._record(conn, self._by_number[number], or_ignore=True)

    def _record(self, conn: sqlite3.Connection, migration: Migration, or_ignore: bool = False) -> None:
        conn.execute(f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO [{self.table}] (number, name, applied_at)"
                     " VALUES (?, ?, ?)", (migration.number, migration.name, _now()))

    def _ensure_table(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS [{self.table}] (number INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)")


def _file_of(conn: sqlite3.Connection) -> str:
    """The file behind ``conn``'s main database ('' for an in-memory one)."""
    for row in conn.execute("PRAGMA database_list"):
        if row[1] == "main":
            return row[2]
    return ""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
