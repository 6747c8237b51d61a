"""The model catalog: model cards in a SQLite file, read by model selection.

Selection asks one question of it — the top-K cards for a task type, ranked by
downloads, optionally among a set of runnable model ids — and that question is one
range scan of an index (see ``schema.py``) however large the catalog grows. The
CLI adds full-text search, one card, and counts.

The file is an ``engine.store.SQLiteFile`` (as the history store's is): WAL mode,
one connection per thread, in autocommit mode with explicit ``BEGIN IMMEDIATE``
transactions, so readers (selection in the engine, the desktop window) keep
answering from the last committed state while an import or a sync writes; the
catalog adds ``synchronous=NORMAL`` (a power cut may lose the last sync, which
is fetched again) and a ``log10`` SQL function. ``Catalog.db`` wraps the thread's
connection in a sqlite-utils ``Database``. Writes are upserts that only overwrite
the fields a source knows (see ``cards.normalize``). The schema is built by the
numbered migrations in ``schema.py``; a file written by a newer hgpt is refused.

A damaged file is detected when it is opened (its header, its schema, and for a
file small enough to check in a few milliseconds ``PRAGMA quick_check``) and on
any later "malformed" error, and reported as ``CatalogCorruptError`` telling the
user to run ``hgpt catalog rebuild``; ``rebuild_catalog`` moves the file aside —
never deletes it — and builds a fresh one. Chat history lives in another file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import HgptError
from ..store.migrations import NewerDatabaseError
from ..store.sqlite import SQLiteFile
from .cards import CardError, clean_description, normalize, trim
from .schema import FILL_SEARCH, MODEL_COLUMNS, migrations, search_key, task_token

__all__ = ["Catalog", "CatalogCorruptError", "open_catalog", "rebuild_catalog", "clean_description"]

log = logging.getLogger(__name__)
SQLITE_HEADER = b"SQLite format 3\x00"
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024  # above this, open checks header and schema only
_DEFAULTS = {"task": "''", "downloads": "0", "likes": "0", "tags": "'[]'", "library": "''",
             "licence": "''", "languages": "'[]'", "description": "''", "size_mb": "0",
             "runtime": "''", "installed": "0", "pinned": "0", "source": "''"}
POPULARITY = 0.25  # search rank: BM25 minus this much per tenfold downloads
SEARCH_POOL = 300  # search ranks this many of the most popular text matches
SEARCH_EXTRA = 100  # with a task: at most this many models serving it as a second task
CARD_FIELDS = ("id", "downloads", "likes", "licence", "size_mb", "installed", "runtime", "source",
               "description")


class CatalogCorruptError(HgptError, sqlite3.DatabaseError):
    """The catalog file is damaged or is not a SQLite database."""

    def __init__(self, path: Path, detail: str):
        self.path = path
        super().__init__(
            f"the model catalog {path} is damaged ({detail}). Run: hgpt catalog rebuild "
            "— it moves the damaged file aside and builds a fresh catalog; chat history is not touched")


def _upsert_sql() -> str:
    cols = ", ".join(MODEL_COLUMNS)
    values = ", ".join(f"coalesce(:{c}, {_DEFAULTS[c]})" if c in _DEFAULTS else f":{c}"
                       for c in MODEL_COLUMNS)
    updates = ", ".join(f"{c} = coalesce(:{c}, {c})" for c in MODEL_COLUMNS if c != "id")
    return f"INSERT INTO models ({cols}) VALUES ({values}) ON CONFLICT(id) DO UPDATE SET {updates}"


UPSERT_SQL = _upsert_sql()
EXTRA_TASK_SQL = ("INSERT OR IGNORE INTO model_tasks (task, model_id, downloads, extra) "
                  "SELECT :task, id, downloads, task != :task FROM models WHERE id = :id")


class Catalog:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # recursive_triggers: as sqlite-utils sets it on every connection it wraps,
        # which every catalog connection was before SQLiteFile.
        self._file = SQLiteFile(self.path, pragmas={"synchronous": "NORMAL", "recursive_triggers": "ON"},
                                setup=_ensure_log10, check_same_thread=False)
        self._wrapped = threading.local()
        self._check_header()
        with self.guard():
            conn = self.connect()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            try:
                migrations.apply(conn)
            except NewerDatabaseError as exc:
                raise NewerDatabaseError(self.path, exc.unknown, advice=(
                    "update hgpt, or run: hgpt catalog rebuild — it moves this file aside and "
                    "builds a catalog this hgpt can read")) from None
            if self.path.stat().st_size <= QUICK_CHECK_MAX_BYTES:
                self.check()

    # -- connections -------------------------------------------------------------
    @property
    def db(self):
        """This thread's connection as a ``sqlite_utils.Database``."""
        conn = self.connect()
        db = getattr(self._wrapped, "db", None)
        if db is None or db.conn is not conn:
            import sqlite_utils

            db = self._wrapped.db = sqlite_utils.Database(conn, recursive_triggers=False)
        return db

    def connect(self) -> sqlite3.Connection:
        """This thread's connection."""
        return self._file.connect()

    def close(self) -> None:
        self._file.close()
        self._wrapped = threading.local()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, or part of the caller's when one is open."""
        with self.guard(), self._file.transaction() as conn:
            yield conn

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Turn SQLite's "this file is damaged" errors into CatalogCorruptError."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            # Damage surfaces as the base class itself ("file is not a database",
            # "database disk image is malformed"); its subclasses (locked, constraint,
            # misuse) are ordinary errors.
            if type(exc) is not sqlite3.DatabaseError:
                raise
            raise CatalogCorruptError(self.path, str(exc)) from exc

    def _check_header(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
        if head != SQLITE_HEADER:
            raise CatalogCorruptError(self.path, "file is not a database")

    def check(self) -> None:
        """``PRAGMA quick_check``; raises CatalogCorruptError when it finds damage."""
        with self.guard():
            problems = [r[0] for r in self.connect().execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise CatalogCorruptError(self.path, "; ".join(problems[:3]))

    # -- writing -----------------------------------------------------------------
    def upsert(self, cards: Iterable[dict], source: str = "", synced_at: str | None = None) -> int:
        """Normalize and upsert cards of any known shape; ones without an id are skipped."""
        rows = []
        for card in cards:
            try:
                rows.append(normalize(card, source, synced_at))
            except CardError:
                continue
        return self.upsert_rows(rows)

    def upsert_rows(self, rows: list[dict]) -> int:
        """Upsert rows already made by ``cards.normalize``, in one transaction."""
        extra = [{"task": t, "id": r["id"]} for r in rows for t in r["tasks"][1:]]
        with self.transaction() as conn:
            conn.executemany(UPSERT_SQL, rows)
            if extra:
                conn.executemany(EXTRA_TASK_SQL, extra)
        return len(rows)

    @contextlib.contextmanager
    def bulk(self, cache_mb: int = 256) -> Iterator[sqlite3.Connection]:
        """One transaction for a large load: the ranking indexes and the full-text
        triggers are dropped, rows are written, then the indexes are recreated from
        their saved definitions and the FTS index rebuilt. Building an index once is
        several times cheaper than updating it row by row; readers see the old
        catalog until the commit, then the new one. All or nothing."""
        with self.transaction() as conn:
            saved = conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ("
                "(type = 'index' AND name IN ('models_downloads', 'model_tasks_rank')) OR "
                "(type = 'trigger' AND name IN ('models_ai', 'models_ad', 'models_au'))) "
                "ORDER BY type").fetchall()
            for kind, name, _ in saved:
                conn.execute(f"DROP {kind.upper()} [{name}]")
            previous = conn.execute("PRAGMA cache_size").fetchone()[0]
            conn.execute(f"PRAGMA cache_size = {-1024 * cache_mb}")
            try:
                yield conn
                conn.execute("INSERT INTO models_fts (models_fts) VALUES ('delete-all')")
                conn.execute(FILL_SEARCH)
                for _, _, sql in saved:
                    conn.execute(sql)
            finally:
                conn.execute(f"PRAGMA cache_size = {previous}")

    def set_installed(self, ids: Iterable[str]) -> None:
        """Every model not in ``ids`` is marked not installed (its files are gone)."""
        keep = list(ids)
        with self.transaction() as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS keep_ids (id TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM keep_ids")
            conn.executemany("INSERT OR IGNORE INTO keep_ids VALUES (?)", [(i,) for i in keep])
            conn.execute("UPDATE models SET installed = 0, installed_path = NULL, installed_revision = NULL "
                         "WHERE installed = 1 AND id NOT IN (SELECT id FROM keep_ids)")

    def set_pinned(self, ids: Iterable[str]) -> None:
        pinned = list(dict.fromkeys(ids))
        with self.transaction() as conn:
            conn.execute("UPDATE models SET pinned = 0 WHERE pinned = 1")
            conn.executemany("UPDATE models SET pinned = 1 WHERE id = ?", [(i,) for i in pinned])

    def meta(self, key: str) -> str | None:
        row = self.connect().execute("SELECT value FROM catalog_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO catalog_meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- reading -----------------------------------------------------------------
    def top_k(self, task: str, k: int = 5, among: Iterable[str] | None = None,
              description_chars: int = 200, *, runnable: bool = False,
              installed: bool | None = None) -> list[dict]:
        """The ``k`` most downloaded cards for ``task`` (optionally among ``among`` ids,
        with a known runtime, or installed/not), with the fields shown to the LLM."""
        if among is not None:
            among = list(among)
            if not among:
                return []
        sql, params = top_k_sql(task, k, among, runnable, installed)
        with self.guard():
            rows = self.connect().execute(sql, params).fetchall()
        return [_card(r, task, description_chars) for r in rows]

    def search(self, query: str, task: str | None = None, limit: int = 20,
               description_chars: int = 200) -> list[dict]:
        """Full-text search over id, description and tags, best first.

        The rank is BM25 (a word in the id counts 8x, in the tags 3x) nudged by
        popularity, as the Hub's own search favours much-used models, over the
        most popular ``SEARCH_POOL`` matches (of the task, when one is given).
        Every word must match; when nothing does, any word may."""
        words = _fts_words(query)
        if not words:
            return []
        for joiner in (" ", " OR "):
            rows = self._search(joiner.join(words), task, limit)
            if rows or len(words) == 1:
                break
        return self._cards(rows, description_chars)

    def _cards(self, rows: list[sqlite3.Row], description_chars: int) -> list[dict]:
        return [_card(r, r["task"], description_chars) | {"score": round(-r["score"], 3)} for r in rows]

    def _search(self, match: str, task: str | None, limit: int) -> list[sqlite3.Row]:
        pool = max(SEARCH_POOL, limit * 10)
        if not task:
            return self._ranked(_POOL_HITS, [match, pool], limit)
        # The primary task is a token in the index; the few models that serve the task
        # as a second one (multi-task expert cards) are looked up one by one by key.
        rows = self._ranked(_POOL_HITS, [f"({match}) AND task : {_fts_string(task_token(task))}", pool], limit)
        keys = [r[0] for r in self.connect().execute(_EXTRA_KEYS, (task, SEARCH_EXTRA))]
        if keys:
            rows += self._ranked(_KEY_HITS, [json.dumps(keys), match], limit)
        return sorted(rows, key=lambda r: r["score"])[:limit]

    def _ranked(self, hits: str, params: list, limit: int) -> list[sqlite3.Row]:
        """Rank the ``hits`` (key, relevance) by relevance and popularity."""
        sql = (f"WITH hits AS ({hits}) SELECT m.id, m.task, m.downloads, m.likes, m.licence, m.size_mb,"
               " m.installed, m.runtime, m.source, m.description,"
               f" relevance - {POPULARITY} * log10(m.downloads + 1) AS score"
               " FROM hits JOIN models m ON m.rowid = (hits.key & 4294967295) ORDER BY score LIMIT ?")
        with self.guard():
            return self.connect().execute(sql, [*params, limit]).fetchall()

    def get(self, model_id: str) -> dict | None:
        """Every field of one card, lists decoded, with all the tasks it serves."""
        with self.guard():
            conn = self.connect()
            row = conn.execute("SELECT * FROM models WHERE id = ?", (model_id,)).fetchone()
            if row is None:
                return None
            tasks = [r[0] for r in conn.execute(
                "SELECT task FROM model_tasks WHERE model_id = ? ORDER BY task", (model_id,))]
        card = dict(row)
        card["tags"], card["languages"] = json.loads(card["tags"]), json.loads(card["languages"])
        card["installed"], card["pinned"] = bool(card["installed"]), bool(card["pinned"])
        card["tasks"] = sorted(tasks, key=lambda t: t != card["task"])
        return card

    def count(self) -> int:
        with self.guard():
            return self.connect().execute("SELECT count(*) FROM models").fetchone()[0]

    def stats(self) -> dict:
        """Counts by task, installed and pinned models, the file's size, the last sync."""
        with self.guard():
            conn = self.connect()
            by_task = {r[0]: r[1] for r in conn.execute(
                "SELECT task, count(*) FROM model_tasks GROUP BY task ORDER BY count(*) DESC, task")}
            one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
            sync = conn.execute("SELECT endpoint, fetched, updated_at, finished_at FROM sync_state "
                                "ORDER BY updated_at DESC LIMIT 1").fetchone()
            return {
                "path": str(self.path), "models": one("SELECT count(*) FROM models"),
                "installed": one("SELECT count(*) FROM models WHERE installed = 1"),
                "pinned": one("SELECT count(*) FROM models WHERE pinned = 1"),
                "with_runtime": one("SELECT count(*) FROM models WHERE runtime != ''"),
                "by_task": by_task, "size_bytes": self.size_bytes(),
                "migrations": migrations.applied(conn),
                "last_sync": dict(sync) if sync else None,
            }

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())


# Search stage 1. The index is walked in search-key order (most popular first) and
# stops after a pool of matches; BM25 weighs a word in the id 8x, in the tags 3x.
_BM25 = "bm25(models_fts, 8.0, 1.0, 3.0, 0.0)"
_POOL_HITS = (f"SELECT f.rowid AS key, {_BM25} AS relevance FROM models_fts f"
              " WHERE models_fts MATCH ? ORDER BY f.rowid LIMIT ?")
_KEY_HITS = (f"SELECT f.rowid AS key, {_BM25} AS relevance FROM json_each(?) k"
             " CROSS JOIN models_fts f ON f.rowid = k.value WHERE models_fts MATCH ?")
_EXTRA_KEYS = (f"SELECT {search_key('m')} FROM model_tasks t INDEXED BY model_tasks_extra"
               " JOIN models m ON m.id = t.model_id WHERE t.task = ? AND t.extra = 1 LIMIT ?")


def top_k_sql(task: str, k: int, among: list[str] | None = None, runnable: bool = False,
              installed: bool | None = None) -> tuple[str, list]:
    """The selection query: a range scan of ``model_tasks_rank`` with no sort, or,
    among given ids, primary-key lookups of just those."""
    sql = ("SELECT m.id, m.downloads, m.likes, m.licence, m.size_mb, m.installed, m.runtime,"
           " m.source, m.description FROM model_tasks t JOIN models m ON m.id = t.model_id"
           " WHERE t.task = ?")
    params: list[Any] = [task]
    order = " ORDER BY t.downloads DESC, t.model_id LIMIT ?"
    if among is not None:
        sql += f" AND t.model_id IN ({','.join('?' * len(among))})"
        params += among
        # A few ids: look each up by primary key and sort them; the unary + stops
        # the planner from walking every row of the task in index order instead.
        order = " ORDER BY +t.downloads DESC, +t.model_id LIMIT ?"
    if runnable:
        sql += " AND m.runtime != ''"
    if installed is not None:
        sql += " AND m.installed = ?"
        params.append(int(installed))
    return sql + order, params + [k]


def _ensure_log10(conn: sqlite3.Connection) -> None:
    """Search ranking uses log10; SQLite builds without math functions get Python's."""
    try:
        conn.execute("SELECT log10(10)")
    except sqlite3.OperationalError:
        conn.create_function("log10", 1, lambda x: math.log10(x) if x and x > 0 else None,
                             deterministic=True)


def _card(row: sqlite3.Row, task: str, description_chars: int) -> dict:
    card = {k: row[k] for k in CARD_FIELDS}
    card["task"] = task
    card["installed"] = bool(card["installed"])
    card["description"] = trim(card["description"], description_chars)
    return card


def _fts_words(query: str) -> list[str]:
    """The query's words as quoted FTS5 strings (a trailing ``*`` keeps prefix search).

    Only runs of letters, digits, ``_`` and ``.`` are kept, each quoted, so no text a
    user types is read as FTS5 syntax (quotes, ``-``, ``:``, parentheses, ``AND``/``OR``/
    ``NOT``/``NEAR`` become plain words or are dropped)."""
    words = re.findall(r"[\w.]+\*?", query or "")
    return [_fts_string(w.rstrip("*")) + ("*" if w.endswith("*") else "") for w in words if w.strip("*.")]


def _fts_string(text: str) -> str:
    """``text`` as one FTS5 string literal: a phrase, never syntax (``"`` is doubled)."""
    return '"' + text.replace('"', '""') + '"'


def open_catalog(path: str | Path, registry=None, **local) -> Catalog:
    """Open (creating if needed) and bring the local part up to date: the registered
    experts' cards, the Hugging Face cache, ``models.lock``. Cheap when nothing changed.

    Keyword arguments go to ``scan.refresh_local`` (``cache_dir``, ``lock_files``)."""
    from .scan import refresh_local

    catalog = Catalog(path)
    try:
        refresh_local(catalog, registry, **local)
    except sqlite3.OperationalError as exc:  # e.g. locked by a long import in another process
        log.warning("catalog: local models not refreshed this time (%s); selection uses what is stored", exc)
    return catalog


def rebuild_catalog(path: str | Path, registry=None, **local) -> tuple[Path | None, Catalog]:
    """Move the catalog file (and its WAL) aside — never delete it — and build a fresh one.

    Returns where the old file went (None when there was none) and the new catalog."""
    path = Path(path)
    aside = None
    if path.exists():
        label = "old" if _healthy(path) else "broken"
        aside = path.with_name(f"{path.name}.{label}-{time.strftime('%Y%m%d-%H%M%S')}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.{label}-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{path}{suffix}")
            if part.exists():
                part.rename(Path(f"{aside}{suffix}"))
    return aside, open_catalog(path, registry, **local)


def _healthy(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            if f.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return False
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute("PRAGMA quick_check")] == ["ok"]
        finally:
            conn.close()
    except sqlite3.Error:
        return False
