"""Crash safety of the history store: the CLI records its runs, a SIGKILL mid-run loses
nothing written before it and the run shows as interrupted on the next start, and two
engines writing the same database at once leave both runs recorded and the file sound.

The kill test runs the real CLI in a subprocess with the real SmolLM2 controller (the
planning step takes seconds, which is the window the kill lands in)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine import events as ev
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.history import HistoryStore
from engine.session import Engine
from engine.testing import scripted_planner
from engine.record import RunRecord
from engine.testing import ScriptedController

ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("text-generation", "summarization")

    def run(self, task, args, ctx):
        time.sleep(0.05)
        return ExpertResult(text=args["text"].upper())


def plan_json(text: str) -> str:
    return json.dumps([{"task": "text-generation", "id": 0, "dep": [-1], "args": {"text": text}}])


def scripted_engine(settings, *replies) -> Engine:
    controller = ScriptedController(list(replies))
    registry = ExpertRegistry([Upper()])
    return Engine(settings, controller=controller, registry=registry,
                  planner=scripted_planner(controller))


def earlier_history(db: Path) -> tuple[int, str]:
    store = HistoryStore(db)
    conversation = store.new_conversation()
    store.start_run("earlier-run", conversation.id, "an earlier question")
    record = RunRecord("earlier-run", "", "an earlier question", [])
    record.answer = "an earlier answer"
    store.finish_run(record, "done", conversation_id=conversation.id)
    store.close()
    return conversation.id, "earlier-run"


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


# -- the CLI records its runs ------------------------------------------------------------------
def test_cli_ask_is_kept_as_a_conversation_with_its_run(settings, monkeypatch, capsys):
    import engine.experts.registry as registry_module
    import engine.controller as llm_module
    import engine.plan.planner as planning_module
    from engine.cli import main

    controller = ScriptedController([plan_json("hello"), "It says HELLO."])
    monkeypatch.setattr(llm_module, "load_controller", lambda s: controller)
    monkeypatch.setattr(registry_module, "build_registry", lambda s=None: ExpertRegistry([Upper()]))
    monkeypatch.setattr(planning_module, "default_planner",
                        lambda c, **k: scripted_planner(c))
    assert main(["ask", "write hello"]) == 0
    assert "HELLO" in capsys.readouterr().out
    store = HistoryStore(settings.db_path)
    [conversation] = store.conversations()
    roles = [(m.role, m.content.split("\n")[0]) for m in store.messages(conversation.id)]
    assert roles[0] == ("user", "write hello") and roles[1][0] == "assistant"
    [run] = store.runs(conversation.id)
    assert run.status == "done" and run.results["0"]["text"] == "HELLO"


def test_cli_goes_on_unrecorded_when_the_history_file_is_damaged(settings, monkeypatch, capsys):
    import engine.experts.registry as registry_module
    import engine.controller as llm_module
    import engine.plan.planner as planning_module
    from engine.cli import main

    settings.home.mkdir(parents=True, exist_ok=True)
    settings.db_path.write_bytes(b"this is not a database" * 100)
    controller = ScriptedController([plan_json("hi"), "HI."])
    monkeypatch.setattr(llm_module, "load_controller", lambda s: controller)
    monkeypatch.setattr(registry_module, "build_registry", lambda s=None: ExpertRegistry([Upper()]))
    monkeypatch.setattr(planning_module, "default_planner",
                        lambda c, **k: scripted_planner(c))
    assert main(["ask", "write hi"]) == 0
    err = capsys.readouterr().err
    assert "not kept in the history" in err and "move it aside" in err
    assert len(err.strip().splitlines()) == 1


# -- SIGKILL mid-run ------------------------------------------------------------------------------
def _wait_for(db: Path, sql: str, proc: subprocess.Popen, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"hgpt ask ended (rc {proc.returncode}) before it could be killed: "
                        f"{proc.stderr.read()[-2000:]}")
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as conn:
                    rows = conn.execute(sql).fetchall()
            except sqlite3.OperationalError:  # the tables are being created
                rows = []
            if rows:
                return rows
        time.sleep(0.02)
    pytest.fail(f"no row for {sql!r} within {timeout} s")


@pytest.mark.slow
def test_sigkill_mid_run_loses_nothing_and_the_run_shows_interrupted(tmp_path):
    import llama_cpp  # noqa: F401  (the run below needs the embedded controller)
    home = tmp_path / "home"
    db = home / "hgpt.db"
    conversation_id, earlier = earlier_history(db)
    env = {**os.environ, "HGPT_HOME": str(home), "HGPT_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "ask", SHOWCASE, "--attach", str(ROOT / "samples" / "chelsea.png")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        [(run_id,)] = _wait_for(db, "SELECT id FROM runs WHERE status = 'running'", proc, 120)
        # let it get into the plan stage (the controller loads and plans), then kill it
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = HistoryStore(db)  # "restart": opening the store finds the dead run
    assert run_id in store.interrupted_at_open
    killed = store.run(run_id)
    assert killed.status == "interrupted" and "send the request again" in killed.error
    assert store.run(earlier).status == "done"
    earlier_messages = [(m.role, m.content) for m in store.messages(conversation_id)]
    assert earlier_messages == [("user", "an earlier question"), ("assistant", "an earlier answer")]
    cli_conversation = killed.conversation_id
    assert [(m.role, m.content) for m in store.messages(cli_conversation)] == [("user", SHOWCASE)]
    assert integrity(db) == "ok"
    run_json = json.loads((Path(killed.run_dir) / "run.json").read_text())
    assert run_json["request"] == SHOWCASE  # the run folder's record survived the kill too
    assert run_json["status"] == "interrupted"  # and says the run was cut short
    store.close()


# -- two engines at once --------------------------------------------------------------------------
def test_two_engines_in_two_threads_both_record_and_the_database_stays_sound(settings):
    barrier = threading.Barrier(2)
    outcomes: dict[int, list] = {}
    errors: list[BaseException] = []

    def one(n: int) -> None:
        try:
            store = HistoryStore(settings.db_path)  # each thread: its own store and engine
            conversation = store.new_conversation()
            engine = scripted_engine(settings, plan_json(f"request {n}"), f"answer {n}")
            barrier.wait(timeout=30)
            events = list(engine.run(f"request {n}", conversation=conversation.id))
            outcomes[n] = [events, conversation.id, store]
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    store = HistoryStore(settings.db_path)
    for n, (events, conversation_id, _) in outcomes.items():
        assert isinstance(events[-1], ev.AnswerDone)
        [run] = store.runs(conversation_id)
        assert run.status == "done" and run.results["0"]["text"] == f"REQUEST {n}"
        assert [m.role for m in store.messages(conversation_id)] == ["user", "assistant"]
    assert len(store.runs()) == 2 and integrity(settings.db_path) == "ok"
