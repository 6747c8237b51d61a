"""The catalog's schema, as numbered migrations (``engine.store.migrations``, recorded
in the file's ``_migrations`` table; each step gets the plain ``sqlite3`` connection).

``models`` holds one row per model card: the Hub fields (id, pipeline_tag as
``task``, downloads, likes, tags, library, licence, languages, last modified, sha),
the description cleaned of markup, the size on disk, the runtime that can run it
here, and local state (installed path and revision, pinned in ``models.lock``,
when it was last synced). Lists (tags, languages) are JSON text.

``model_tasks`` says which tasks a model serves (a model may serve several). It
carries a copy of the model's downloads so that "top-K for a task by downloads" is
one range scan of the ``(task, downloads DESC)`` index with no sort, however many
cards the catalog holds; triggers keep that copy and the primary task in step with
``models`` (with ``WHEN NOT EXISTS`` rather than ``OR IGNORE``: the upsert that fires
them would impose its own conflict policy on the trigger's insert).

``models_fts`` is an FTS5 index over id, description and tags. Migration 2 made it
the sqlite-utils way (``enable_fts(create_triggers=True)``); migration 4 replaced it
with a contentless index whose rowid is a *search key*: the model's popularity
bucket (half-decades of downloads, most popular first) in the high bits and the
``models`` rowid in the low 32. FTS5 walks matches in rowid order, so "the most
popular few hundred matches" is an early-stopping scan instead of ranking every
match — a common word matches tens of thousands of cards in a million. Triggers
keep it in step, re-keying a model when its downloads cross a bucket boundary.
Migration 5 added the primary task as a fourth column holding one token, so a
search within a task is an FTS5 AND that skips through doclists, however rare
the task.
``sync_state`` remembers where an interrupted Hub sync stopped; ``catalog_meta``
holds small key/value facts (fingerprints that make re-opening cheap).
"""

from __future__ import annotations

import re

from ..store.migrations import Migrations
from ..store.sqlite import run_script as _run

migrations = Migrations()

MODEL_COLUMNS = (
    "id", "task", "downloads", "likes", "tags", "library", "licence", "languages",
    "description", "size_mb", "runtime", "installed", "installed_path", "installed_revision",
    "pinned", "source", "last_modified", "sha", "synced_at",
)


@migrations(1)
def create_models(conn) -> None:
    # A catalog written before migrations existed holds only expert cards, which
    # open_catalog rebuilds; its tables are replaced rather than converted.
    _run(conn, """
DROP TABLE IF EXISTS model_tasks;
DROP TABLE IF EXISTS models;
CREATE TABLE models (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL DEFAULT '',
    downloads INTEGER NOT NULL DEFAULT 0,
    likes INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    library TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    languages TEXT NOT NULL DEFAULT '[]',
    description TEXT NOT NULL DEFAULT '',
    size_mb REAL NOT NULL DEFAULT 0,
    runtime TEXT NOT NULL DEFAULT '',
    installed INTEGER NOT NULL DEFAULT 0,
    installed_path TEXT,
    installed_revision TEXT,
    pinned INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '',
    last_modified TEXT,
    sha TEXT,
    synced_at TEXT
);
CREATE INDEX models_downloads ON models(downloads DESC);
CREATE TABLE model_tasks (
    task TEXT NOT NULL,
    model_id TEXT NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task, model_id)
) WITHOUT ROWID;
CREATE INDEX model_tasks_rank ON model_tasks(task, downloads DESC, model_id);
CREATE INDEX model_tasks_model ON model_tasks(model_id);
CREATE TRIGGER models_task_ai AFTER INSERT ON models WHEN new.task != '' BEGIN
    INSERT INTO model_tasks (task, model_id, downloads) VALUES (new.task, new.id, new.downloads);
END;
CREATE TRIGGER models_task_au AFTER UPDATE OF task ON models
WHEN new.task != '' AND NOT EXISTS (SELECT 1 FROM model_tasks WHERE task = new.task AND model_id = new.id)
BEGIN
    INSERT INTO model_tasks (task, model_id, downloads) VALUES (new.task, new.id, new.downloads);
END;
CREATE TRIGGER models_downloads_au AFTER UPDATE OF downloads ON models
WHEN new.downloads != old.downloads BEGIN
    UPDATE model_tasks SET downloads = new.downloads WHERE model_id = new.id;
END;
CREATE TRIGGER models_task_ad AFTER DELETE ON models BEGIN
    DELETE FROM model_tasks WHERE model_id = old.id;
END
""")


@migrations(2)
def full_text_search(conn) -> None:
    import sqlite_utils

    # sqlite-utils runs its statements inside the open transaction (it does not
    # commit it); recursive_triggers is already on for every catalog connection.
    sqlite_utils.Database(conn, recursive_triggers=False)["models"].enable_fts(["id", "description", "tags"], fts_version="FTS5",
                            create_triggers=True, tokenize="porter")
    # sqlite-utils' update trigger fires on every column; narrowed to the indexed
    # ones, so a sync that only refreshes downloads does not rewrite the index.
    _run(conn, """
DROP TRIGGER models_au;
CREATE TRIGGER models_au AFTER UPDATE OF id, description, tags ON models BEGIN
    INSERT INTO models_fts (models_fts, rowid, id, description, tags)
        VALUES ('delete', old.rowid, old.id, old.description, old.tags);
    INSERT INTO models_fts (rowid, id, description, tags) VALUES (new.rowid, new.id, new.description, new.tags);
END
""")


# Popularity bucket: two per decade of downloads (1-2.99…, 3-9.99…), in plain SQL so
# the triggers run on any SQLite build. Lower key = more popular.
def search_key(row: str) -> str:
    digits = f"CAST({row}.downloads AS TEXT)"
    bucket = f"(length({digits}) * 2 + (substr({digits}, 1, 1) >= '3'))"
    return f"(((40 - {bucket}) << 32) | {row}.rowid)"


def task_token(task: str) -> str:
    """The primary task as one FTS token ("text-classification" -> "tasktextclassification"),
    so "these words, and this task" is an FTS5 AND that skips through doclists."""
    return "task" + task.lower().replace("-", "").replace("_", "")  # as _TASK does in SQL


def search_sql(values: dict[str, str]) -> tuple[str, str]:
    """(triggers, fill statement) keeping a contentless ``models_fts`` in step with
    ``models``; ``values`` maps each FTS column to an SQL expression over row ``{r}``."""
    cols = ", ".join(values)
    row = lambda r: ", ".join(v.format(r=r) for v in values.values())  # noqa: E731
    changed = " OR ".join(f"{v.format(r='old')} IS NOT {v.format(r='new')}" for v in values.values())
    watched = ", ".join(dict.fromkeys(re.findall(r"\{r\}\.(\w+)", " ".join(values.values())) + ["downloads"]))
    delete = f"INSERT INTO models_fts (models_fts, rowid, {cols}) VALUES ('delete', {search_key('old')}, {row('old')})"
    insert = f"INSERT INTO models_fts (rowid, {cols}) VALUES ({search_key('new')}, {row('new')})"
    triggers = f"""
CREATE TRIGGER models_ai AFTER INSERT ON models BEGIN {insert}; END;
CREATE TRIGGER models_ad AFTER DELETE ON models BEGIN {delete}; END;
CREATE TRIGGER models_au AFTER UPDATE OF {watched} ON models
WHEN {changed} OR {search_key('old')} != {search_key('new')}
BEGIN {delete}; {insert}; END
"""
    fill = f"INSERT INTO models_fts (rowid, {cols}) SELECT {search_key('models')}, {row('models')} FROM models"
    return triggers, fill


_TEXT = {"id": "{r}.id", "description": "{r}.description", "tags": "{r}.tags"}
_TASK = "'task' || replace(replace(lower({r}.task), '-', ''), '_', '')"
SEARCH_TRIGGERS, FILL_SEARCH = search_sql(_TEXT | {"task": _TASK})  # the current layout (5)


@migrations(3)
def sync_state(conn) -> None:
    _run(conn, """
CREATE TABLE sync_state (
    endpoint TEXT PRIMARY KEY,
    next_url TEXT,
    fetched INTEGER NOT NULL DEFAULT 0,
    target INTEGER NOT NULL DEFAULT 0,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE catalog_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)
""")


def _replace_search_index(conn, values: dict[str, str]) -> None:
    triggers, fill = search_sql(values)
    _run(conn, f"""
DROP TRIGGER IF EXISTS models_ai;
DROP TRIGGER IF EXISTS models_ad;
DROP TRIGGER IF EXISTS models_au;
DROP TABLE IF EXISTS models_fts;
CREATE VIRTUAL TABLE models_fts USING fts5 ({', '.join(values)}, content='', tokenize='porter')
""")
    _run(conn, triggers)
    conn.execute(fill)


@migrations(4)
def search_by_popularity(conn) -> None:
    _replace_search_index(conn, _TEXT)


@migrations(5)
def search_by_task(conn) -> None:
    """The primary task joins the index as one token per model (see ``task_token``);
    ``model_tasks.extra`` marks the other tasks a model serves, with a small partial
    index, so a search within a task finds those few models without a scan."""
    _replace_search_index(conn, _TEXT | {"task": _TASK})
    _run(conn, """
ALTER TABLE model_tasks ADD COLUMN extra INTEGER NOT NULL DEFAULT 0;
UPDATE model_tasks SET extra = 1 WHERE task != (SELECT m.task FROM models m WHERE m.id = model_id);
CREATE INDEX model_tasks_extra ON model_tasks(task) WHERE extra = 1;
DROP TRIGGER models_task_au;
CREATE TRIGGER models_task_au AFTER UPDATE OF task ON models WHEN new.task != old.task BEGIN
    UPDATE model_tasks SET extra = 1 WHERE model_id = new.id AND task = old.task;
    UPDATE model_tasks SET extra = 0 WHERE model_id = new.id AND task = new.task;
    INSERT INTO model_tasks (task, model_id, downloads)
        SELECT new.task, new.id, new.downloads WHERE new.task != ''
        AND NOT EXISTS (SELECT 1 FROM model_tasks WHERE task = new.task AND model_id = new.id);
END
""")
