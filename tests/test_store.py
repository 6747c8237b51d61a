"""engine.store on real SQLite files: one file used from many threads (SQLiteFile) and
numbered migrations (Migrations), which the history store and the catalog both use."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from engine.errors import HgptError
from engine.store import Migrations, NewerDatabaseError, SQLiteFile, run_script, table_exists
from engine.store.sqlite import set_wal


def _in_thread(fn):
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


# -- SQLiteFile -----------------------------------------------------------------------------
def test_each_thread_gets_its_own_connection_set_up_the_same_way(tmp_path):
    calls = []
    file = SQLiteFile(tmp_path / "new" / "folder" / "x.db",
                      pragmas={"foreign_keys": "ON", "synchronous": "FULL"}, setup=calls.append)
    here = file.connect()
    assert file.connect() is here

    def settings(conn):
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        return (conn.isolation_level, conn.execute("PRAGMA journal_mode").fetchone()[0],
                conn.execute("PRAGMA foreign_keys").fetchone()[0], conn.execute("PRAGMA synchronous").fetchone()[0],
                type(conn.execute("SELECT 1 AS one").fetchone()))

    there = _in_thread(lambda: (file.connect(), settings(file.connect())))
    assert there[0] is not here and calls == [here, there[0]]
    assert settings(here) == there[1] == (None, "wal", 1, 2, sqlite3.Row)  # autocommit, WAL, FULL
    assert here.execute("SELECT 1 AS one").fetchone()["one"] == 1
    file.close()


def test_a_transaction_commits_or_rolls_back_as_a_whole(tmp_path):
    file = SQLiteFile(tmp_path / "x.db")
    other = sqlite3.connect(tmp_path / "x.db")
    count = lambda: other.execute("SELECT count(*) FROM t").fetchone()[0]  # noqa: E731
    with file.transaction() as tx:
        tx.execute("CREATE TABLE t (x)")
        tx.execute("INSERT INTO t VALUES (1)")
        assert tx.in_transaction
    assert count() == 1 and not file.connect().in_transaction
    with pytest.raises(RuntimeError):
        with file.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("boom")
    assert count() == 1
    with pytest.raises(RuntimeError):  # nested: part of the outer, which rolls back the whole
        with file.transaction() as outer:
            outer.execute("INSERT INTO t VALUES (3)")
            with file.transaction() as inner:
                assert inner is outer
                inner.execute("INSERT INTO t VALUES (4)")
                raise RuntimeError("boom")
    assert count() == 1
    with file.transaction() as outer:
        with file.transaction() as inner:
            inner.execute("INSERT INTO t VALUES (5)")
        assert count() == 1  # the inner block did not commit on its own
    assert count() == 2
    other.close()
    file.close()


def test_a_failed_commit_leaves_no_transaction_open(tmp_path):
    """A COMMIT refused by a deferred constraint keeps SQLite's transaction open; were it
    left so, the next write on this thread would be taken for part of it and never commit."""
    file = SQLiteFile(tmp_path / "x.db", pragmas={"foreign_keys": "ON"})
    run_script(file.connect(), "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                               "CREATE TABLE c (p REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError):
        with file.transaction() as tx:
            tx.execute("INSERT INTO c VALUES (7)")
    assert not file.connect().in_transaction
    with file.transaction() as tx:
        tx.execute("INSERT INTO p VALUES (1)")
    other = sqlite3.connect(tmp_path / "x.db")
    assert other.execute("SELECT count(*) FROM p").fetchone()[0] == 1
    assert other.execute("SELECT count(*) FROM c").fetchone()[0] == 0
    other.close()
    file.close()


def test_readers_see_the_last_commit_while_a_write_is_open(tmp_path):
    file = SQLiteFile(tmp_path / "x.db")
    with file.transaction() as tx:
        tx.execute("CREATE TABLE t (x)")
        tx.execute("INSERT INTO t VALUES (1)")
    with file.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (2)")
        started = time.monotonic()
        seen = _in_thread(lambda: file.connect().execute("SELECT count(*) FROM t").fetchone()[0])
        assert seen == 1 and time.monotonic() - started < 5  # WAL: answered at once, not after the write
    assert _in_thread(lambda: file.connect().execute("SELECT count(*) FROM t").fetchone()[0]) == 2
    file.close()


def test_a_connection_whose_setup_fails_is_closed_and_the_next_connect_tries_again(tmp_path):
    made = []

    def setup(conn):
        made.append(conn)
        if len(made) == 1:
            raise sqlite3.OperationalError("no such function")

    file = SQLiteFile(tmp_path / "x.db", setup=setup)
    with pytest.raises(sqlite3.OperationalError):
        file.connect()
    with pytest.raises(sqlite3.ProgrammingError):  # closed, not left open
        made[0].execute("SELECT 1")
    assert file.connect() is made[1] and file.connect().execute("SELECT 1").fetchone()[0] == 1
    file.close()


def test_close_closes_every_connection_and_a_later_use_opens_a_new_one(tmp_path):
    file = SQLiteFile(tmp_path / "x.db", check_same_thread=False)
    here, there = file.connect(), _in_thread(file.connect)
    file.close()
    for conn in (here, there):
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    assert file.connect() is not here
    file.close()
    # With check_same_thread on, another thread's connection cannot be closed from here;
    # close() does not fail on it.
    strict = SQLiteFile(tmp_path / "y.db")
    strict.connect()
    _in_thread(strict.connect)
    strict.close()
    assert strict.connect().execute("SELECT 1").fetchone()[0] == 1
    strict.close()


def test_switching_a_new_file_to_wal_is_retried_while_it_is_locked(tmp_path):
    """SQLite says 'locked' at once to a journal-mode change it cannot make yet; the
    switch is retried until the other connection lets go."""
    path = tmp_path / "x.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, lambda: writer.execute("COMMIT")).start()
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)  # no busy wait: only the retry waits
    started = time.monotonic()
    set_wal(conn, seconds=10)
    assert time.monotonic() - started >= 0.25
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    writer.close()
    held = sqlite3.connect(tmp_path / "y.db", isolation_level=None)  # a lock held past the deadline
    held.execute("CREATE TABLE t (x)")
    held.execute("BEGIN EXCLUSIVE")
    late = sqlite3.connect(tmp_path / "y.db", isolation_level=None, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        set_wal(late, seconds=0.1)
    late.close()
    held.execute("ROLLBACK")
    held.close()


def test_run_script_keeps_trigger_bodies_whole_and_the_transaction_open(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    run_script(conn, """
CREATE TABLE t (x);
CREATE TABLE log (x);
CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
    INSERT INTO log VALUES (new.x);
    INSERT INTO log VALUES (new.x * 10);
END;
INSERT INTO t VALUES (2)
""")
    assert conn.in_transaction  # executescript would have committed it
    assert [r[0] for r in conn.execute("SELECT x FROM log")] == [2, 20]
    conn.execute("ROLLBACK")
    assert not table_exists(conn, "t")
    conn.close()


# -- Migrations -----------------------------------------------------------------------------
def test_a_failing_migration_rolls_back_and_stays_pending(tmp_path):
    db = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    steps = Migrations()
    broken = {"yes": True}

    @steps(1)
    def first(db):
        db.execute("CREATE TABLE one (x)")

    @steps(2)
    def second(db):
        db.execute("CREATE TABLE two (x)")
        if broken["yes"]:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        steps.apply(db)
    assert steps.applied(db) == [1]
    assert not table_exists(db, "two")  # the DDL was rolled back with the failure
    broken["yes"] = False
    assert steps.apply(db) == ["second"]
    assert steps.applied(db) == [1, 2] and table_exists(db, "two")


def test_duplicate_migration_numbers_and_names_are_refused():
    steps = Migrations()
    steps(1)(lambda db: None)
    with pytest.raises(ValueError, match="already registered"):
        steps(1, name="other")(lambda db: None)
    with pytest.raises(ValueError, match="already registered"):
        steps(2, name="<lambda>")(lambda db: None)


def _three_steps() -> Migrations:
    steps = Migrations()
    for number in (1, 2, 3):
        steps(number, name=f"table_{number}")(lambda conn, n=number: conn.execute(f"CREATE TABLE t{n} (x)"))
    return steps


def test_apply_until_stops_after_that_number_and_the_rest_follow_later(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    steps = _three_steps()
    assert steps.applied(conn) == [] and not table_exists(conn, "_migrations")
    assert steps.apply(conn, until=2) == ["table_1", "table_2"]
    assert steps.applied(conn) == [1, 2] and not table_exists(conn, "t3")
    assert steps.apply(conn) == ["table_3"] and steps.apply(conn) == []
    rows = conn.execute("SELECT number, name FROM _migrations ORDER BY number").fetchall()
    assert rows == [(1, "table_1"), (2, "table_2"), (3, "table_3")]


def test_a_file_with_a_migration_this_hgpt_does_not_know_is_refused_untouched(tmp_path):
    path = tmp_path / "m.db"
    conn = sqlite3.connect(path, isolation_level=None)
    newer = _three_steps()
    newer.apply(conn, until=1)
    conn.execute("INSERT INTO _migrations VALUES (7, 'from_a_newer_hgpt', '2100-01-01')")
    with pytest.raises(NewerDatabaseError, match="newer hgpt.*7.*update hgpt") as info:
        newer.apply(conn)
    assert isinstance(info.value, HgptError) and info.value.unknown == [7]
    assert info.value.path.name == "m.db"
    assert newer.applied(conn) == [1, 7] and not table_exists(conn, "t2")  # nothing applied


def test_record_adopts_migrations_without_running_them(tmp_path):
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    conn.execute("CREATE TABLE t1 (x)")  # built by an earlier scheme
    steps = _three_steps()
    conn.execute("BEGIN IMMEDIATE")
    steps.record(conn, [1])
    steps.record(conn, [1])  # twice is once
    conn.execute("COMMIT")
    assert steps.apply(conn) == ["table_2", "table_3"]  # 1 did not run again (t1 exists)


def test_two_connections_applying_at_once_run_each_migration_once(tmp_path):
    runs = []
    steps = Migrations()

    @steps(1)
    def slow(conn):
        runs.append(threading.get_ident())
        time.sleep(0.2)
        conn.execute("CREATE TABLE t (x)")

    file = SQLiteFile(tmp_path / "m.db")
    errors = []

    def apply():
        try:
            steps.apply(file.connect())
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=apply) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(runs) == 1 and steps.applied(file.connect()) == [1]
    file.close()
