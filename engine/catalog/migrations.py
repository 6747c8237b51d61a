"""Numbered, transactional schema migrations, in the manner of sqlite-utils'.

A ``Migrations`` set holds functions registered with ``@migrations(number)``; each
takes a ``sqlite_utils.Database`` and changes the schema. ``apply(db)`` runs the
ones not yet recorded in the ``_migrations`` table, in number order, each inside
its own transaction together with the row that records it — so a migration that
raises leaves no trace and stays pending, and applying twice is a no-op. Numbers
must be unique and names too; a duplicate is refused when it is registered, not
discovered later in a user's database. ``apply(db, until=N)`` stops after number N
(tests use it to build a catalog as an older release left it).

The connection must be in autocommit mode (``isolation_level=None``): this module
issues ``BEGIN IMMEDIATE``/``COMMIT`` itself, which makes DDL transactional too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

TABLE = "_migrations"


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    fn: Callable


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

    def applied(self, db) -> list[int]:
        if self.table not in db.table_names():
            return []
        return [r[0] for r in db.execute(f"SELECT number FROM [{self.table}] ORDER BY number")]

    def pending(self, db, until: int | None = None) -> list[Migration]:
        done = set(self.applied(db))
        return [m for m in self.all if m.number not in done and (until is None or m.number <= until)]

    def apply(self, db, until: int | None = None) -> list[str]:
        """Apply pending migrations (up to number ``until``); returns the names applied."""
        pending = self.pending(db, until)
        if not pending:  # the common case: one cheap read, no write lock
            return []
        self._ensure_table(db)
        names = []
        for migration in pending:
            conn = db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-checked under the write lock: another process may have just applied it.
                if conn.execute(f"SELECT 1 FROM [{self.table}] WHERE number = ?",
                                (migration.number,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                migration.fn(db)
                conn.execute(f"INSERT INTO [{self.table}] (number, name, applied_at) VALUES (?, ?, ?)",
                             (migration.number, migration.name, _now()))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            names.append(migration.name)
        return names

    def _ensure_table(self, db) -> None:
        db.execute(f"CREATE TABLE IF NOT EXISTS [{self.table}] (number INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
