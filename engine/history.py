"""The history store: conversations, messages, runs and artifacts in SQLite.

One database file (``settings.db_path``) in WAL mode, so the window can read while
a worker thread writes. The schema is built by numbered migrations, each applied
once inside its own transaction and recorded in ``migrations``; a newer file is
never downgraded. Every write is one ``BEGIN IMMEDIATE`` transaction, so a crash
loses at most the write in flight, never an earlier message.

A run row is written when the run starts (status ``running``, with the owning
process's id and start time) and updated as its plan, selections and results
arrive, then at the end. When a store opens, a run still ``running`` whose owner
process is gone becomes ``interrupted``.

``HistoryRecorder`` folds an engine event stream into the store (the window and
the CLI wrap ``Engine.run``'s generator with it); ``chat_history`` turns earlier
turns of a conversation into the planner's chat logs.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from . import events as ev
from .errors import HgptError, UserInputError
from .record import RunRecord

MIGRATIONS: list[tuple[str, str]] = [
    ("001_initial", """
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
"""),
]

WORKFLOW_MARK = "\n\nHow I did it:"  # where engine.answer's workflow part starts
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

STAGE_WORDS = {"plan": "planning", "review": "reviewing the plan", "select": "choosing models",
               "execute": "running models", "answer": "answering"}


class HistoryError(HgptError, RuntimeError):
    """The history database is unusable (newer than this hgpt, or corrupt)."""


def _process_started(pid: int) -> str:
    """The kernel's start time of ``pid`` (tells a live owner from a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _wal(db: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Switch to WAL. On a new file another connection may be mid-write; SQLite then says
    'locked' at once (its busy timeout does not cover a journal-mode change), so retry."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.pid, self.pid_started = os.getpid(), _process_started(os.getpid())
        self.migrate()
        self.interrupted_at_open = self.mark_dead_runs_interrupted()

    # -- connection and transactions ------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                _wal(db)
            except sqlite3.DatabaseError as exc:
                raise HistoryError(f"{self.path} is not a usable history database ({exc}); "
                                   "move it aside and hgpt will start a new one") from None
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=FULL")  # a committed message survives a power cut too
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.connect()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                try:
                    db.close()
                except sqlite3.ProgrammingError:  # made in another thread, already gone
                    pass
            self._connections.clear()
        self._local = threading.local()

    # -- migrations -----------------------------------------------------------------
    def migrate(self) -> list[str]:
        db = self.connect()
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        done = {r[0] for r in db.execute("SELECT name FROM migrations")}
        known = {name for name, _ in MIGRATIONS}
        if done - known:
            raise HistoryError(f"{self.path} was written by a newer hgpt (migrations {sorted(done - known)}); "
                               "update hgpt or point HGPT_HOME elsewhere")
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as tx:
                # another process may have applied it since we looked: check under the lock
                if tx.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    continue
                for statement in filter(str.strip, sql.split(";")):
                    tx.execute(statement)
                tx.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            applied.append(name)
        return applied

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
        return [Message(**{**dict(r), "attachments": json.loads(r["attachments"])}) for r in rows]

    def chat_history(self, conversation_id: int, max_turns: int = 3, max_chars: int = 600) -> list[dict]:
        """The last ``max_turns`` user/assistant exchanges as planner chat logs. An
        answer keeps its direct part; the engine's "How I did it" listing is left out
        (it is long, and the planner cannot refer to earlier runs' files anyway)."""
        turns = [{"role": m.role, "content": _clip(m.content.split(WORKFLOW_MARK)[0].strip(), max_chars)}
                 for m in self.messages(conversation_id)]
        return turns[-2 * max_turns:] if max_turns else []

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
                tx.execute(
                    "INSERT INTO messages (conversation_id, role, content, run_id, created_at)"
                    " VALUES (?, 'assistant', ?, ?, ?)", (conversation_id, record.answer, record.run_id, now))
                self._touch(tx, conversation_id, now)

    def run(self, run_id: str) -> RunRow:
        row = self.connect().execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise UserInputError(f"there is no run {run_id!r} in {self.path}")
        return self._run_row(row)

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


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _title_from(request: str, limit: int = 48) -> str:
    words = " ".join(request.split())
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + "…"


class HistoryRecorder:
    """Folds a run's events into the store as they pass: ``for e in rec.wrap(stream)``."""

    PROGRESS = (ev.PlanReady, ev.ModelSelected, ev.TaskFinished, ev.TaskFailed, ev.TaskSkipped)

    def __init__(self, store: HistoryStore, conversation_id: int | None):
        self.store, self.conversation_id = store, conversation_id
        self.record: RunRecord | None = None
        self.status = ""

    def wrap(self, events: Iterable[ev.Event]) -> Iterator[ev.Event]:
        try:
            for event in events:
                self.apply(event)
                yield event
        finally:
            if self.record is not None and not self.status:  # the stream stopped early
                self.status = "interrupted"
                self.store.finish_run(self.record, "interrupted", "the run stopped before it finished")

    def apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self.record = RunRecord(event.run_id, event.run_dir, event.request, list(event.attachments))
            self.store.start_run(event.run_id, self.conversation_id, event.request,
                                 event.run_dir, event.attachments)
            return
        if self.record is None:
            return
        self.record.apply(event)
        if isinstance(event, ev.Token):
            return
        if isinstance(event, ev.AnswerDone):
            self._finish(event.record, "done")
        elif isinstance(event, ev.RunFailed):
            self._finish(None, "failed", event.error)
        elif isinstance(event, ev.RunCancelled):
            self._finish(None, "cancelled", f"stopped by the user while {STAGE_WORDS.get(event.stage, event.stage)}")
        elif isinstance(event, self.PROGRESS) or type(event).__name__ == "PlanReviewed":
            self.store.update_run(self.record)

    def _finish(self, final: dict | None, status: str, error: str = "") -> None:
        if final:
            for key in ("plan", "selections", "tasks", "answer", "timings"):
                if key in final:
                    setattr(self.record, key, final[key])
        self.status = status
        self.store.finish_run(self.record, status, error, self.conversation_id)


def open_history(settings=None) -> HistoryStore:
    from .settings import settings as global_settings

    return HistoryStore((settings or global_settings()).db_path)
