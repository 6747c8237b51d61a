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
from engine.history import MIGRATIONS, HistoryError, HistoryStore
from engine.session import Engine
from engine.cancel import CancelToken
from engine import events as ev
from engine.testing import ScriptedController


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
    names = [r[0] for r in db.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert HistoryStore(settings.db_path).migrate() == []  # nothing left to apply


def test_a_newer_database_is_refused_with_the_fix(store, settings):
    store.connect().execute("INSERT INTO migrations VALUES ('999_future', 0)")
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


def test_cancel_and_early_stop_are_recorded(store, settings):
    conv = store.new_conversation()
    engine = Engine(settings, controller=ScriptedController([_plan("a"), "x", _plan("b")]),
                    registry=ExpertRegistry([Upper()]))
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
    assert [r[0] for r in store.connect().execute("SELECT name FROM migrations")] == [n for n, _ in MIGRATIONS]
