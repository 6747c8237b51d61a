"""``hgpt runs list | show | replay | rerun`` over a real history and real run folders; the
engine the command builds is given the small in-test experts of test_rerun (the real
experts' replay is in test_rerun_real.py)."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from test_rerun import Tone, first_run


@pytest.fixture
def recorded(settings, monkeypatch):
    engine, controller, record = first_run(settings, extra=["Again."])
    monkeypatch.setattr("engine.cli.runs._engine", lambda: engine)
    yield engine, controller, record
    Tone.noise = 0.0


def test_list_and_show(recorded, capsys):
    engine, _, record = recorded
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert record["run_id"] in out and "done" in out and "shout, count and say it" in out
    assert main(["runs", "show", record["run_id"]]) == 0
    out = capsys.readouterr().out
    assert "[2] text-to-speech(text=<resource>-1)  done" in out
    assert "model test/tone" in out and "2-speech.wav  sha256 " in out and "controller: scripted" in out
    assert main(["runs", "show", record["run_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == record["run_id"]
    assert main(["runs", "list", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [record["run_id"]]


def test_rerun_and_replay(recorded, capsys):
    engine, _, record = recorded
    code = main(["runs", "rerun", record["run_id"], "--from", "1", "--set", "1.text=<resource>-0 and more"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"[0] kept from run {record['run_id']}: HELLO THERE" in out
    assert "[1] summarization started with test/count" in out and "[2] text-to-speech started" in out
    assert "[0] translation started" not in out
    assert main(["runs", "replay", record["run_id"]]) == 0
    out = capsys.readouterr().out
    assert "[2] text-to-speech: identical" in out and f"Replay of run {record['run_id']}: 3 identical." in out
    Tone.noise = 0.05
    assert main(["runs", "replay", record["run_id"]]) == 1  # one task differs
    assert "[2] text-to-speech: differs" in capsys.readouterr().out


def test_bad_input_is_one_line_and_exit_2(recorded, capsys, settings):
    engine, _, record = recorded
    before = sorted(p.name for p in settings.runs_dir.iterdir())
    for argv, message in [
        (["runs", "rerun", "20990101-000000-aaaaaa", "--from", "0"], "there is no run '20990101-000000-aaaaaa'"),
        (["runs", "rerun", record["run_id"], "--from", "9"], "has no task 9"),
        (["runs", "rerun", record["run_id"], "--from", "0", "--set", "0.txt=x"], "has no argument 'txt'"),
        (["runs", "rerun", record["run_id"], "--from", "0", "--set", "nonsense"], "write TASK.ARG=VALUE"),
        (["runs", "rerun", record["run_id"], "--from", "0", "--model", "0=x/y"], "'x/y' is not an installed model"),
        (["runs", "show", "nope"], "there is no run 'nope'"),
        (["runs", "replay", "nope"], "there is no run 'nope'"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("hgpt: ") and message in err and err.count("\n") == 1, (argv, err)
    assert sorted(p.name for p in settings.runs_dir.iterdir()) == before


def test_a_reader_that_goes_away_is_not_a_data_folder_fault(recorded, capsys, monkeypatch):
    class ClosedPipe:  # what 'hgpt runs show ID | head -3' gives print once head has exited
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    _, _, record = recorded
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["runs", "show", record["run_id"]]) == 141
    assert capsys.readouterr().err == ""  # not "cannot write its data: Broken pipe; check the data folder"
