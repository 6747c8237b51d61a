"""The history store on a real SQLite file: migrations, conversations, runs folded
from a real engine event stream (scripted controller), interrupted runs at open."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from engine.errors import UserInputError
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.history import HistoryError, HistoryStore, migrations
from engine.session import Engine
from engine.cancel import CancelToken
from engine import events as ev
from engine.testing import ScriptedController, scripted_planner


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        out = ctx.output_path("upper", ".txt")
        out.write_text(args["text"].upper())
        return ExpertResult(text=args["text"].upper(), files=[out])


def _plan(text):
    return json.dumps([{"task": "translation", "id": 0, "dep": [-1], "args": {"text": text}}])


@pytest.fixture
def store(settings):
    s = HistoryStore(settings.db_path)
    yield s
    s.close()


def test_migrations_are_recorded_once_and_wal_is_on(store, settings):
    db = sqlite3.connect(settings.db_path)
    names = [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY number")]
    assert names == [m.name for m in migrations.all]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert HistoryStore(settings.db_path).migrate() == []  # nothing left to apply


def test_a_newer_database_is_refused_with_the_fix(store, settings):
    store.connect().execute("INSERT INTO _migrations VALUES (999, 'future', '2100-01-01')")
    with pytest.raises(HistoryError, match="newer hgpt"):
        HistoryStore(settings.db_path)


def test_conversations_new_rename_search_delete(store):
    a = store.new_conversation()
    b = store.new_conversation()
    store.add_message(a.id, "user", "What animal is in the photo?")
    store.add_message(b.id, "user", "Translate 100% of this_text")
    assert store.conversation(a.id).title == "What animal is in the photo?"  # titled by first request
    store.rename(b.id, "  French   lesson ")
    assert store.conversation(b.id).title == "French lesson"
    assert [c.id for c in store.conversations("ANIMAL")] == [a.id]
    assert [c.id for c in store.conversations("french")] == [b.id]
    assert [c.id for c in store.conversations("100%")] == [b.id]  # LIKE wildcards are literal
    assert store.conversations("_") == [store.conversation(b.id)]
    with pytest.raises(UserInputError, match="needs a title"):
        store.rename(a.id, "   ")
    store.delete(a.id)
    assert [c.id for c in store.conversations()] == [b.id]
    assert store.messages(a.id) == []


def test_a_run_is_folded_into_the_store_and_feeds_the_next_plan(store, settings):
    conv = store.new_conversation()
    llm = ScriptedController([_plan("hola"), "It says HOLA.", "[]", "You asked about hola."])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper()]))
    seen_running = []

    for event in engine.run("translate hola", conversation=conv.id):
        if isinstance(event, ev.PlanReady):
            seen_running.append(store.run(event.run_id).status)
    run = store.runs(conv.id)[0]
    assert seen_running == ["running"]  # written at start, before the plan
    assert run.status == "done" and run.plan[0]["task"] == "translation"
    assert run.selections["0"]["model_id"] == "test/upper"
    assert run.results["0"]["text"] == "HOLA" and run.timings["total"] > 0
    assert run.artifacts and run.artifacts[0].endswith(".txt")
    assert [m.role for m in store.messages(conv.id)] == ["user", "assistant"]

    list(engine.run("what did I ask?", conversation=conv.id))  # its earlier turns are the chat log
    planning_messages = llm.calls[2]["messages"]
    assert {"role": "user", "content": "translate hola"} in planning_messages
    assert any(m["role"] == "assistant" and m["content"].startswith("It says HOLA.") for m in planning_messages)
    assert len(store.messages(conv.id)) == 4


def test_a_request_asked_again_outlives_the_turns_the_chat_log_keeps(store, settings, tmp_path):
    from engine.plan.chatlog import asked_before
    from engine.record import RunRecord

    conv = store.new_conversation()
    turns = [("Is this a porcini?", "first.jpg", ""), ("and this one?", "second.jpg", "Is this a porcini?"),
             ("and this?", "third.jpg", "Is this a porcini?"), ("what about this one", "fourth.jpg", "Is this a porcini?")]
    for n, (request, photo, asked) in enumerate(turns):
        record = RunRecord(f"run-{n}", str(tmp_path / f"run-{n}"), request, [photo], asked=asked, answer="It is.")
        store.start_run(record.run_id, conv.id, request, record.run_dir, [str(tmp_path / photo)])
        store.finish_run(record, "done", conversation_id=conv.id)
    history = store.chat_history(conv.id)  # the last three exchanges: the first request is not among them
    assert "Is this a porcini?" not in [t["content"] for t in history]
    assert [t.get("asked") for t in history if t["role"] == "user"] == ["Is this a porcini?"] * 3
    assert asked_before(history, {"fifth.jpg": "image"})[0] == "Is this a porcini?"


def test_cancel_and_early_stop_are_recorded(store, settings):
    conv = store.new_conversation()
    llm = ScriptedController([_plan("a"), "x", _plan("b")])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper()]), planner=scripted_planner(llm))
    cancel = CancelToken()
    for event in engine.run("one", cancel=cancel, conversation=conv.id):
        if isinstance(event, ev.PlanReady):
            cancel.cancel()
    stream = engine.run("two", conversation=conv.id)
    next(stream), next(stream)
    stream.close()  # the consumer went away mid-run
    statuses = [r.status for r in store.runs(conv.id)]
    assert statuses == ["cancelled", "interrupted"]
    assert "choosing models" in store.runs(conv.id)[0].error
    assert [m.role for m in store.messages(conv.id)] == ["user", "user"]  # requests kept, no answer


def test_runs_left_running_by_a_dead_process_become_interrupted(store, settings, tmp_path):
    conv = store.new_conversation()
    run_dir = tmp_path / "dead-run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"run_id": "dead-run", "status": "running", "error": ""}))
    # A real other process starts a run and dies without finishing it.
    code = ("import sys; from engine.history import HistoryStore\n"
            f"s = HistoryStore({str(settings.db_path)!r})\n"
            f"s.start_run('dead-run', {conv.id}, 'never finished', run_dir={str(run_dir)!r})\n")
    subprocess.run([sys.executable, "-c", code], check=True)
    store.start_run("live-run", conv.id, "still going")  # ours, alive
    assert store.run("dead-run").status == "running"
    reopened = HistoryStore(settings.db_path)
    assert reopened.interrupted_at_open == ["dead-run"]
    assert reopened.run("dead-run").status == "interrupted"
    assert "send the request again" in reopened.run("dead-run").error
    on_disk = json.loads((run_dir / "run.json").read_text())  # the run folder says so too
    assert on_disk["status"] == "interrupted" and "send the request again" in on_disk["error"]
    assert reopened.run("live-run").status == "running"
    assert [m.content for m in reopened.messages(conv.id)] == ["never finished", "still going"]


def test_two_processes_opening_a_new_database_at_once_both_succeed(tmp_path):
    path = tmp_path / "fresh.db"
    code = ("import sys; from engine.history import HistoryStore\n"
            "s = HistoryStore(sys.argv[1]); c = s.new_conversation(); s.add_message(c.id, 'user', 'hi')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    store = HistoryStore(path)
    assert len(store.conversations()) == 3
    names = [r[0] for r in store.connect().execute("SELECT name FROM _migrations ORDER BY number")]
    assert names == [m.name for m in migrations.all]


# -- a database from before numbered migrations ---------------------------------------------
# hgpt used to record its history migrations by name in a table `migrations`. Its schema,
# written out here as that release built it, so these tests do not depend on today's code.
OLD_SCHEMA = """
CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE messages (id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')), content TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]', run_id TEXT, created_at REAL NOT NULL);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE TABLE runs (id TEXT PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
    request TEXT NOT NULL, status TEXT NOT NULL, run_dir TEXT NOT NULL DEFAULT '',
    plan TEXT NOT NULL DEFAULT '[]', selections TEXT NOT NULL DEFAULT '{}',
    results TEXT NOT NULL DEFAULT '{}', timings TEXT NOT NULL DEFAULT '{}',
    answer TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
    owner_pid INTEGER NOT NULL DEFAULT 0, owner_started TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL, finished_at REAL);
CREATE INDEX runs_conversation ON runs(conversation_id, started_at);
CREATE INDEX runs_status ON runs(status);
CREATE TABLE artifacts (id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    task_id INTEGER NOT NULL, path TEXT NOT NULL, UNIQUE (run_id, path));
INSERT INTO conversations VALUES (1, 'What animal is in the photo?', 100.0, 102.0);
INSERT INTO messages (conversation_id, role, content, attachments, run_id, created_at)
    VALUES (1, 'user', 'What animal is in the photo?', '["/in/chelsea.png"]', 'r1', 100.0);
INSERT INTO runs (id, conversation_id, request, status, run_dir, plan, answer, started_at, finished_at)
    VALUES ('r1', 1, 'What animal is in the photo?', 'done', '/runs/r1',
            '[{"task": "image-classification", "id": 0}]', 'A cat.', 100.0, 101.0);
INSERT INTO artifacts (run_id, task_id, path) VALUES ('r1', 0, '/runs/r1/label.txt');
"""
OLD_ANSWER = "A cat.\n\nHow I did it:\n1. I ran image-classification\n\nWhat went wrong:\n- nothing much"
OLD_RELEASE_KNOWS = {"001_initial", "002_answer_details", "003_split_old_answers"}


def _old_database(path, applied=("001_initial", "002_answer_details", "003_split_old_answers")):
    """A history file as the release with named migrations left it, after ``applied``."""
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany("INSERT INTO migrations VALUES (?, ?)", [(name, 50.0 + i) for i, name in enumerate(applied)])
    if "002_answer_details" in applied:
        db.execute("ALTER TABLE messages ADD COLUMN details TEXT NOT NULL DEFAULT '{}'")
        db.execute("INSERT INTO messages (conversation_id, role, content, details, run_id, created_at) VALUES "
                   "(1, 'assistant', 'A cat.', ?, 'r1', 101.0)",
                   (json.dumps({"workflow": ["1. I ran image-classification"], "notes": []}),))
        # an answer whose own words contain the old mark: 003 is done, so never split again
        db.execute("INSERT INTO messages (conversation_id, role, content, created_at) VALUES "
                   "(1, 'assistant', ?, 102.0)", ("Here is a heading:\n\nHow I did it: with care",))
    else:
        db.execute("INSERT INTO messages (conversation_id, role, content, run_id, created_at) VALUES "
                   "(1, 'assistant', ?, 'r1', 101.0)", (OLD_ANSWER,))
    db.commit()
    db.close()


def _rows(path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path)
    try:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in ("conversations", "messages", "runs", "artifacts", "migrations")}
    finally:
        db.close()


def _numbered(path) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT number, name, applied_at FROM _migrations ORDER BY number").fetchall()
    finally:
        db.close()


def test_a_database_from_before_numbered_migrations_is_adopted_once_and_nothing_migrates_again(tmp_path):
    path = tmp_path / "hgpt.db"
    _old_database(path)
    before = _rows(path)
    store = HistoryStore(path)
    after = _rows(path)
    for table in ("conversations", "messages", "runs", "artifacts"):
        assert after[table] == before[table], table  # not one row re-migrated or lost
    # its names are numbers 1-3 now; only 4 (the mark an older hgpt refuses) ran
    adopted = _numbered(path)
    assert [(n, name) for n, name, _ in adopted] == [(m.number, m.name) for m in migrations.all]
    assert after["migrations"][:3] == before["migrations"]
    assert set(r[0] for r in after["migrations"]) - OLD_RELEASE_KNOWS  # an older hgpt now refuses it
    texts = [m.content for m in store.messages(1)]
    assert texts == ["What animal is in the photo?", "A cat.", "Here is a heading:\n\nHow I did it: with care"]
    assert store.messages(1)[1].details["workflow"] == ["1. I ran image-classification"]
    assert store.run("r1").artifacts == ["/runs/r1/label.txt"]
    assert store.migrate() == []
    store.add_message(1, "user", "and now?")
    store.close()
    HistoryStore(path).close()
    assert _numbered(path) == adopted  # adopted once: reopening records nothing again


def test_adopting_is_one_transaction(tmp_path, monkeypatch):
    path = tmp_path / "hgpt.db"
    _old_database(path)
    before = _rows(path)
    real_record = migrations.record

    def record_then_fail(conn, numbers):
        real_record(conn, numbers)
        raise RuntimeError("power cut")

    monkeypatch.setattr(migrations, "record", record_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        HistoryStore(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name = '_migrations'").fetchone() is None
    db.close()
    assert _rows(path) == before
    monkeypatch.undo()
    HistoryStore(path).close()
    assert [n for n, _, _ in _numbered(path)] == [1, 2, 3, 4]
    assert _rows(path)["messages"] == before["messages"]


def test_a_database_from_before_answer_details_gets_only_the_later_migrations(tmp_path):
    path = tmp_path / "hgpt.db"
    _old_database(path, applied=("001_initial",))
    store = HistoryStore(path)
    assert [n for n, _, _ in _numbered(path)] == [1, 2, 3, 4]
    answer = store.messages(1)[1]
    assert answer.content == "A cat."  # 2 and 3 ran: the old answer was split into its parts
    assert answer.details == {"workflow": ["1. I ran image-classification"], "notes": ["nothing much"]}
    assert store.conversation(1).title == "What animal is in the photo?"


def test_a_legacy_database_with_a_migration_this_hgpt_does_not_know_is_refused(tmp_path):
    path = tmp_path / "hgpt.db"
    _old_database(path, applied=("001_initial", "002_answer_details", "003_split_old_answers", "005_future"))
    before = _rows(path)
    with pytest.raises(HistoryError, match="newer hgpt.*005_future.*update hgpt"):
        HistoryStore(path)
    assert _rows(path) == before  # nothing adopted, nothing migrated
    db = sqlite3.connect(path)
    assert db.execute("SELECT 1 FROM sqlite_master WHERE name = '_migrations'").fetchone() is None
    db.close()


def test_an_older_hgpt_would_refuse_a_database_this_one_made(store, settings):
    db = sqlite3.connect(settings.db_path)
    names = {r[0] for r in db.execute("SELECT name FROM migrations")}
    db.close()
    assert names - OLD_RELEASE_KNOWS  # the release with named migrations says "written by a newer hgpt"


def test_three_processes_adopting_one_old_database_at_once(tmp_path):
    path = tmp_path / "hgpt.db"
    _old_database(path)
    before = _rows(path)
    code = ("import sys; from engine.history import HistoryStore\n"
            "s = HistoryStore(sys.argv[1]); assert len(s.messages(1)) == 3\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)]) for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    assert [n for n, _, _ in _numbered(path)] == [1, 2, 3, 4]
    assert _rows(path)["messages"] == before["messages"]
