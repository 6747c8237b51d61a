"""One SQLite file used from many threads.

``SQLiteFile`` gives each thread its own connection (a ``sqlite3`` connection must
not be shared by threads that use it at once), opened the same way every time: in
autocommit mode (``isolation_level=None``, so the owner's explicit ``BEGIN
IMMEDIATE`` transactions are the only ones and DDL is transactional too), in WAL
mode so readers keep answering from the last committed state while a writer
writes, with ``sqlite3.Row`` rows, then the owner's pragmas and its own
per-connection setup (SQL functions, say). ``transaction()`` is one ``BEGIN
IMMEDIATE`` transaction, or part of the caller's when one is already open on this
thread's connection. ``close()`` closes every connection it made.

What the file holds and what a damaged file means are the owner's business: the
history store and the model catalog each wrap this class.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping

__all__ = ["SQLiteFile", "run_script", "set_wal", "table_exists"]


class SQLiteFile:
    """A SQLite file at ``path`` with one connection per thread.

    ``pragmas`` are set on every new connection, in order (``{"synchronous":
    "FULL"}`` runs ``PRAGMA synchronous=FULL``); ``setup`` is then called with the
    connection for anything else. ``timeout`` is SQLite's busy timeout in seconds,
    and also how long switching a new file to WAL is retried. A connection whose
    opening fails is closed and the error raised; the next ``connect`` tries again.
    """

    def __init__(self, path: str | Path, *, pragmas: Mapping[str, str | int] | None = None,
                 setup: Callable[[sqlite3.Connection], None] | None = None, timeout: float = 30.0,
                 row_factory=sqlite3.Row, check_same_thread: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.pragmas = dict(pragmas or {})
        self.setup = setup
        self.timeout = timeout
        self.row_factory = row_factory
        self.check_same_thread = check_same_thread
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connect(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                               check_same_thread=self.check_same_thread)
        try:
            set_wal(conn, self.timeout)
            conn.row_factory = self.row_factory
            for name, value in self.pragmas.items():
                conn.execute(f"PRAGMA {name}={value}")
            if self.setup is not None:
                self.setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on this thread's connection, committed
        when the block ends and rolled back if it raises. Inside an open transaction
        the block is part of it: the outer one commits or rolls back the whole."""
        conn = self.connect()
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (a deferred constraint, a full disk) can leave the
            # transaction open; rolled back here, so it is never taken for the
            # caller's transaction by the next write on this thread.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close every connection made so far; a thread that goes on gets a new one.
        (With ``check_same_thread`` on, another thread's connection cannot be closed
        from here; it is dropped and closes when that thread lets it go.)"""
        with self._lock:
            conns, self._connections = self._connections, []
            self._local = threading.local()
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):  # ProgrammingError: made in another thread
                conn.close()


def set_wal(conn: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Switch to WAL. On a new file another connection may be mid-write; SQLite then says
    'locked' at once (its busy timeout does not cover a journal-mode change), so retry."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one, inside the caller's transaction
    (``executescript`` would commit it first); a trigger body's inner ``;`` does not
    end a statement."""
    statement = ""
    for part in script.split(";"):
        statement += part + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                conn.execute(statement)
            statement = ""
    if statement.strip(" \n;"):
        conn.execute(statement)
