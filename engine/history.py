"""The history store: conversations, messages, runs and artifacts in SQLite.

One database file (``settings.db_path``), an ``engine.store.SQLiteFile`` as the
model catalog's is: WAL mode, so the window can read while a worker thread
writes, a connection per thread, foreign keys on and ``synchronous=FULL`` (a
committed message survives a power cut too). The schema is built by the numbered
migrations below (``engine.store.migrations``), each applied once inside its own
transaction and recorded in ``_migrations``; a file written by a newer hgpt is
refused, never downgraded. A file from before numbered migrations recorded them by
name in a ``migrations`` table; it is adopted once (its names become numbers 1-3)
and nothing in it is migrated again. Migration 4 leaves a name in that table which
an hgpt of that time does not know, so it refuses the file as newer rather than
build its schema over it. Every write is one ``BEGIN IMMEDIATE``
transaction, so a crash loses at most the write in flight, never an earlier message.

A run row is written when the run starts (status ``running``, with the owning
process's id and start time) and updated as its plan, selections and results
arrive, then at the end. When a store opens, a run still ``running`` whose owner
process is gone becomes ``interrupted``.

``RunKeeper`` keeps a run in the store while the engine runs it (``Engine.run``
does this for the CLI, the window and the server alike; it reads the engine's run
record and folds no events of its own); ``chat_history`` turns earlier turns of a
conversation, with their files, into the chat logs of the next request. An answer
is stored as its direct text plus ``details`` (the workflow steps and notes), never
as one text to be split again.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import events as ev
from .errors import HgptError, UserInputError
from .record import RunRecord
from .store.migrations import Migrations, NewerDatabaseError
from .store.sqlite import SQLiteFile, run_script, table_exists
from .text import clip

migrations = Migrations()


@migrations(1, "initial")
def _initial(conn: sqlite3.Connection) -> None:
    run_script(conn, """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    run_id TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    run_dir TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '[]',
    selections TEXT NOT NULL DEFAULT '{}',
    results TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}',
    answer TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    owner_pid INTEGER NOT NULL DEFAULT 0,
    owner_started TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX runs_conversation ON runs(conversation_id, started_at);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    UNIQUE (run_id, path)
);
""")


@migrations(2, "answer_details")
def _answer_details(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE messages ADD COLUMN details TEXT NOT NULL DEFAULT '{}'")


# How an answer was stored before 2: one text, the engine's workflow after this mark.
OLD_WORKFLOW_MARK = "\n\nHow I did it:"
OLD_NOTES_MARK = "\n\nWhat went wrong:"


@migrations(3, "split_old_answers")
def _split_old_answers(tx: sqlite3.Connection) -> None:
    """Answers saved as one text become the direct answer plus their details, once."""
    rows = tx.execute("SELECT id, content FROM messages WHERE role = 'assistant' AND details = '{}' "
                      "AND (instr(content, ?) > 0 OR instr(content, ?) > 0)",
                      (OLD_WORKFLOW_MARK, OLD_NOTES_MARK)).fetchall()
    for row in rows:
        rest, _, notes = row[1].partition(OLD_NOTES_MARK)
        direct, _, workflow = rest.partition(OLD_WORKFLOW_MARK)
        details = {"workflow": [line for line in workflow.strip().splitlines() if line.strip()],
                   "notes": [line.removeprefix("- ") for line in notes.strip().splitlines() if line.strip()]}
        tx.execute("UPDATE messages SET content = ?, details = ? WHERE id = ?",
                   (direct.strip(), json.dumps(details, ensure_ascii=False), row[0]))


# Before numbered migrations, a file recorded its migrations by name in a table
# ``migrations``; these are their numbers now. A release of that time refuses a file
# whose ``migrations`` table holds a name it does not know (a newer hgpt's).
LEGACY_TABLE = "migrations"
LEGACY_NAMES = {"001_initial": 1, "002_answer_details": 2, "003_split_old_answers": 3}
LEGACY_MARK = "004_numbered_migrations"


@migrations(4, "refuse_older_hgpt")
def _refuse_older_hgpt(conn: sqlite3.Connection) -> None:
    """An hgpt from before numbered migrations reads only the ``migrations`` table: a
    name there it does not know makes it refuse the file ("written by a newer hgpt")
    instead of building its schema over this one or using a schema it does not know."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {LEGACY_TABLE} (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    conn.execute(f"INSERT OR IGNORE INTO {LEGACY_TABLE} VALUES (?, ?)", (LEGACY_MARK, time.time()))


FINAL_STATUSES = ("done", "failed", "cancelled", "interrupted")
INTERRUPTED_ERROR = "hgpt stopped while this run was going; send the request again"


def _mark_run_json_interrupted(run_dir: str) -> None:
    """The run folder's ``run.json`` of a run whose process died says so too (it was
    last saved while the run was going). A missing or unreadable file is left as it is:
    the history row already tells the story."""
    from .record import write_json_atomic

    path = Path(run_dir) / "run.json" if run_dir else None
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else None
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or data.get("status") != "running":
        return
    data.update(status="interrupted", error=INTERRUPTED_ERROR)
    try:
        write_json_atomic(path, data)
    except OSError:
        pass

class HistoryError(HgptError, RuntimeError):
    """The history database is unusable (newer than this hgpt, or corrupt)."""


def _process_started(pid: int) -> str:
    """The kernel's start time of ``pid`` (tells a live owner from a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, started: str) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return not started or _process_started(pid) == started


@dataclass
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float


@dataclass
class Message:
    id: int
    conversation_id: int
    role: str
    content: str
    attachments: list[str] = field(default_factory=list)
    run_id: str | None = None
    created_at: float = 0.0
    details: dict = field(default_factory=dict)  # an answer's {"workflow": [...], "notes": [...]}

    @property
    def text(self) -> str:
        """The whole message as one text (an answer with how it was done)."""
        from .answer import compose

        return compose(self.content, self.details.get("workflow", ()), self.details.get("notes", ()))


@dataclass
class RunRow:
    id: str
    conversation_id: int | None
    request: str
    status: str
    run_dir: str
    plan: list[dict]
    selections: dict
    results: dict
    timings: dict
    answer: str
    error: str
    started_at: float
    finished_at: float | None
    artifacts: list[str] = field(default_factory=list)


class HistoryStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = SQLiteFile(self.path, pragmas={"foreign_keys": "ON", "synchronous": "FULL"})
        self.pid, self.pid_started = os.getpid(), _process_started(os.getpid())
        self.migrate()
        self.interrupted_at_open = self.mark_dead_runs_interrupted()

    # -- connection and transactions ------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        """This thread's connection."""
        try:
            return self._file.connect()
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{self.path} is not a usable history database ({exc}); "
                               "move it aside and hgpt will start a new one") from None

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (or part of the caller's, when one is open)."""
        self.connect()
        return self._file.transaction()

    def close(self) -> None:
        self._file.close()

    # -- migrations -----------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply the migrations this file lacks; returns their names."""
        try:
            self._adopt_legacy()
            return migrations.apply(self.connect())
        except NewerDatabaseError as exc:
            raise HistoryError(f"{self.path} was written by a newer hgpt (migrations {exc.unknown}); "
                               "update hgpt or point HGPT_HOME elsewhere") from None

    def _adopt_legacy(self) -> list[int]:
        """A file from before numbered migrations: record its named migrations by number,
        once, in one transaction, so none of them runs again. Returns the numbers."""
        conn = self.connect()
        if not table_exists(conn, LEGACY_TABLE) or table_exists(conn, migrations.table):
            return []
        with self.transaction() as tx:
            if table_exists(tx, migrations.table):  # another process adopted it since we looked
                return []
            names = [r[0] for r in tx.execute(f"SELECT name FROM {LEGACY_TABLE}")]
            unknown = set(names) - set(LEGACY_NAMES) - {LEGACY_MARK}
            if unknown:
                raise NewerDatabaseError(self.path, unknown)
            numbers = sorted(LEGACY_NAMES[name] for name in names if name in LEGACY_NAMES)
            migrations.record(tx, numbers)
        return numbers

    def mark_dead_runs_interrupted(self) -> list[str]:
        rows = self.connect().execute(
            "SELECT id, owner_pid, owner_started, run_dir FROM runs WHERE status = 'running'").fetchall()
        dead = [r for r in rows if not _alive(r["owner_pid"], r["owner_started"])]
        if dead:
            now = time.time()
            with self.transaction() as tx:
                tx.executemany(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE id = ? AND status = 'running'", [(now, INTERRUPTED_ERROR, r["id"]) for r in dead])
            for r in dead:
                _mark_run_json_interrupted(r["run_dir"])
        return [r["id"] for r in dead]

    # -- conversations --------------------------------------------------------------
    def new_conversation(self, title: str = "New chat") -> Conversation:
        now = time.time()
        with self.transaction() as tx:
            cid = tx.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                             (title, now, now)).lastrowid
        return Conversation(cid, title, now, now)

    def conversation(self, conversation_id: int) -> Conversation:
        row = self.connect().execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            raise UserInputError(f"there is no conversation {conversation_id}; pick one from the list")
        return Conversation(**dict(row))

    def conversations(self, search: str = "", limit: int = 500) -> list[Conversation]:
        """Newest first; ``search`` matches titles and message text (case-insensitive)."""
        sql, params = "SELECT c.* FROM conversations c", []
        if search.strip():
            like = f"%{_escape_like(search.strip())}%"
            sql += (" WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m"
                    " WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\')")
            params += [like, like]
        sql += " ORDER BY c.updated_at DESC, c.id DESC LIMIT ?"
        rows = self.connect().execute(sql, params + [limit]).fetchall()
        return [Conversation(**dict(r)) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            raise UserInputError("a conversation needs a title; type one")
        with self.transaction() as tx:
            tx.execute("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conversation_id))

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation with its messages and runs (run folders stay on disk)."""
        with self.transaction() as tx:
            tx.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- messages -------------------------------------------------------------------
    def add_message(self, conversation_id: int, role: str, content: str,
                    attachments: Iterable[str] = (), run_id: str | None = None) -> Message:
        now = time.time()
        files = [str(a) for a in attachments]
        with self.transaction() as tx:
            mid = tx.execute(
                "INSERT INTO messages (conversation_id, role, content, attachments, run_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, role, content, json.dumps(files), run_id, now)).lastrowid
            self._touch(tx, conversation_id, now, first_words=content if role == "user" else "")
        return Message(mid, conversation_id, role, content, files, run_id, now)

    @staticmethod
    def _touch(tx, conversation_id: int, now: float, first_words: str = "") -> None:
        tx.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        if first_words:  # a fresh chat takes its title from its first request
            tx.execute("UPDATE conversations SET title = ? WHERE id = ? AND title = 'New chat'",
                       (_title_from(first_words), conversation_id))

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self.connect().execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)).fetchall()
        return [Message(**{**dict(r), "attachments": json.loads(r["attachments"]),
                           "details": json.loads(r["details"] or "{}")}) for r in rows]

    def chat_history(self, conversation_id: int, max_turns: int = 3, max_chars: int = 600) -> list[dict]:
        """The last ``max_turns`` user/assistant exchanges as chat logs for the planner
        and the answer: each turn's direct text (the workflow listing is long and
        exact, so it is left out) and its ``files`` — what the user attached, what the
        run wrote — which ``engine.plan.chatlog.stage_history`` brings into the next run;
        a user turn that asked an earlier request again ("and this one?") carries it
        as ``asked``, so the request outlives the turns kept."""
        if not max_turns:
            return []
        messages = self.messages(conversation_id)[-2 * max_turns:]
        produced = self._artifacts_by_run({m.run_id for m in messages if m.role == "assistant" and m.run_id})
        asked = {m.run_id: m.details["asked"] for m in messages if m.role == "assistant" and m.details.get("asked")}
        turns = []
        for m in messages:
            files = m.attachments if m.role == "user" else produced.get(m.run_id, [])
            turn = {"role": m.role, "content": clip(m.content.strip(), max_chars)}
            if files:
                turn["files"] = list(files)
            if m.role == "user" and asked.get(m.run_id):
                turn["asked"] = asked[m.run_id]
            turns.append(turn)
        return turns

    def _artifacts_by_run(self, run_ids) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for run_id in run_ids:
            rows = self.connect().execute("SELECT path FROM artifacts WHERE run_id = ? ORDER BY task_id, id",
                                          (run_id,)).fetchall()
            found[run_id] = [r[0] for r in rows]
        return found

    # -- runs -----------------------------------------------------------------------
    def start_run(self, run_id: str, conversation_id: int | None, request: str,
                  run_dir: str = "", attachments: Iterable[str] = ()) -> None:
        """The user's message and a ``running`` run row, in one transaction."""
        now = time.time()
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO runs (id, conversation_id, request, status, run_dir, owner_pid,"
                " owner_started, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (run_id, conversation_id, request, run_dir, self.pid, self.pid_started, now))
            if conversation_id is not None:
                tx.execute(
                    "INSERT INTO messages (conversation_id, role, content, attachments, run_id, created_at)"
                    " VALUES (?, 'user', ?, ?, ?, ?)",
                    (conversation_id, request, json.dumps([str(a) for a in attachments]), run_id, now))
                self._touch(tx, conversation_id, now, first_words=request)

    def update_run(self, record: RunRecord) -> None:
        """Save the plan, selections, results and timings so far (status unchanged)."""
        with self.transaction() as tx:
            tx.execute(
                "UPDATE runs SET plan = ?, selections = ?, results = ?, timings = ? WHERE id = ?",
                (*_run_json(record), record.run_id))

    def finish_run(self, record: RunRecord, status: str, error: str = "",
                   conversation_id: int | None = None) -> None:
        """Final state of a run; a ``done`` run also gets its answer message and artifacts."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"{status!r} is not a final status; use one of {FINAL_STATUSES}")
        now = time.time()
        with self.transaction() as tx:
            tx.execute(
                "UPDATE runs SET status = ?, error = ?, answer = ?, finished_at = ?, plan = ?,"
                " selections = ?, results = ?, timings = ? WHERE id = ?",
                (status, error, record.answer, now, *_run_json(record), record.run_id))
            for task_id, info in record.tasks.items():
                tx.executemany("INSERT OR IGNORE INTO artifacts (run_id, task_id, path) VALUES (?, ?, ?)",
                               [(record.run_id, int(task_id), str(f)) for f in info.get("files", [])])
            if status == "done" and conversation_id is not None:
                details = {"workflow": record.workflow, "notes": record.notes}
                if record.asked:  # the request this turn asked again: a later "and this one?" asks it too
                    details["asked"] = record.asked
                details = json.dumps(details, ensure_ascii=False)
                tx.execute(
                    "INSERT INTO messages (conversation_id, role, content, details, run_id, created_at)"
                    " VALUES (?, 'assistant', ?, ?, ?, ?)", (conversation_id, record.answer, details, record.run_id, now))
                self._touch(tx, conversation_id, now)

    def run(self, run_id: str) -> RunRow:
        row = self.connect().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserInputError(f"there is no run {run_id!r} in {self.path}")
        return self._run_row(row)

    def has_run(self, run_id: str) -> bool:
        return self.connect().execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None

    def restore_conversation(self, title: str, messages: list[dict], runs: list[dict]) -> Conversation:
        """A conversation brought back from an export (``engine.chats``), in one transaction:
        its runs (``id``, ``status``, ``request``, ``run_dir``, ``record``, ``artifacts``,
        times, answer, error) and its messages as they were, times included."""
        now = time.time()
        created = min([m.get("created_at") or now for m in messages] or [now])
        updated = max([m.get("created_at") or now for m in messages] or [now])
        dump = lambda v: json.dumps(v, ensure_ascii=False, default=str)  # noqa: E731
        with self.transaction() as tx:
            cid = tx.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                             (title[:200], created, updated)).lastrowid
            for run in runs:
                record = run.get("record", {})
                tx.execute(
                    "INSERT INTO runs (id, conversation_id, request, status, run_dir, plan, selections, results,"
                    " timings, answer, error, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run["id"], cid, run.get("request", ""), run.get("status", "done"), run.get("run_dir", ""),
                     dump(record.get("plan", [])), dump(record.get("selections", {})), dump(record.get("tasks", {})),
                     dump(record.get("timings", {})), run.get("answer", ""), run.get("error", ""),
                     run.get("started_at") or now, run.get("finished_at")))
                tx.executemany("INSERT OR IGNORE INTO artifacts (run_id, task_id, path) VALUES (?, ?, ?)",
                               [(run["id"], task_id, path) for task_id, path in run.get("artifacts", [])])
            for m in messages:
                tx.execute(
                    "INSERT INTO messages (conversation_id, role, content, attachments, details, run_id, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (cid, m["role"], m.get("content", ""), dump(m.get("attachments", [])), dump(m.get("details") or {}),
                     m.get("run_id"), m.get("created_at") or now))
        return Conversation(cid, title[:200], created, updated)

    def runs(self, conversation_id: int | None = None, status: str | None = None) -> list[RunRow]:
        sql, params = "SELECT * FROM runs WHERE 1=1", []
        if conversation_id is not None:
            sql, params = sql + " AND conversation_id = ?", params + [conversation_id]
        if status is not None:
            sql, params = sql + " AND status = ?", params + [status]
        rows = self.connect().execute(sql + " ORDER BY started_at, id", params).fetchall()
        return [self._run_row(r) for r in rows]

    def _run_row(self, row: sqlite3.Row) -> RunRow:
        data = dict(row)
        for key in ("plan", "selections", "results", "timings"):
            data[key] = json.loads(data[key])
        for key in ("owner_pid", "owner_started"):
            data.pop(key)
        arts = self.connect().execute("SELECT path FROM artifacts WHERE run_id = ? ORDER BY task_id, id",
                                      (row["id"],)).fetchall()
        return RunRow(**data, artifacts=[a[0] for a in arts])


def _run_json(record: RunRecord) -> tuple[str, str, str, str]:
    dump = lambda v: json.dumps(v, ensure_ascii=False, default=str)  # noqa: E731
    return dump(record.plan), dump(record.selections), dump(record.tasks), dump(record.timings)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _title_from(request: str, limit: int = 48) -> str:
    words = " ".join(request.split())
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + "…"


class RunKeeper:
    """Keeps one run in the store while the engine runs it: the user's turn and a
    ``running`` row at the start, the record's plan, selections and results as they
    arrive, the final state and the answer at the end. It reads the engine's
    ``RunRecord``; it does not fold events itself.

    A store that cannot be opened, or a write that fails (disk full), stops the
    keeping for this run; the run goes on, and each returns one line for the user."""

    PROGRESS = (ev.PlanReady, ev.PlanReviewed, ev.ModelSelected, ev.TaskFinished, ev.TaskFailed,
                ev.TaskSkipped)
    # written with the next write: no work was done for them (a selection, a result kept
    # or cached), and each write is a commit the disk syncs
    DEFERRED = (ev.ModelSelected,)
    FLUSH = (ev.TaskStarted, ev.Token, ev.PreflightReady, ev.ReviewRequested)  # before work or a wait

    def __init__(self, open_store, record: RunRecord, conversation_id: int | None):
        self.record, self.conversation_id = record, conversation_id
        self.store = open_store()
        self.problem = ""
        self.dirty = False  # progress not written yet (see progress)
        if not isinstance(self.store, HistoryStore):
            self.problem = f"this run is not kept in the history ({self.store})"
            self.store = None

    def notices(self, message: str | None):
        """A ``RunNotice`` event for ``message``, if any (``yield from`` it)."""
        if message:
            yield ev.RunNotice(self.record.run_id, message)

    def chat_history(self) -> list[dict]:
        if self.store is None or self.conversation_id is None:
            return []
        return self.store.chat_history(self.conversation_id)

    def start(self, attachments) -> str | None:
        if self.store is None:
            return self.problem
        def write():
            if self.conversation_id is None:
                self.conversation_id = self.store.new_conversation().id
            self.store.start_run(self.record.run_id, self.conversation_id, self.record.request,
                                 self.record.run_dir, attachments)
        return self._write(write)

    def progress(self, event: ev.Event) -> str | None:
        """Write the record's progress after ``event``: at once after work (a plan, a task
        computed, failed or skipped); a selection or a kept or cached result waits for the
        next write, or the next task, answer token or wait for the user, so a re-run that
        keeps N tasks does not commit more often than running its one task alone."""
        if self.store is None:
            return None
        if isinstance(event, self.DEFERRED) or (isinstance(event, ev.TaskFinished) and event.cached):
            self.dirty = True
            return None
        if isinstance(event, self.PROGRESS) or (self.dirty and isinstance(event, self.FLUSH)):
            self.dirty = False
            return self._write(lambda: self.store.update_run(self.record))
        return None

    def finish(self, stage_doing: str = "") -> None:
        record = self.record
        if self.store is None:
            return
        error = record.error
        if record.status == "cancelled":
            error = f"stopped by the user while {stage_doing}"
        self._write(lambda: self.store.finish_run(record, record.status, error, self.conversation_id))

    def _write(self, write) -> str | None:
        from .faults import storage_message

        try:
            write()
        except (sqlite3.Error, OSError) as exc:
            self.store = None
            return f"the history stops recording this run: {storage_message(exc, 'the history database')}"
        return None


def open_history(settings) -> HistoryStore:
    """The history store of the data folder ``settings`` names."""
    return HistoryStore(settings.db_path)
