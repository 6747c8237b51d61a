"""Chat export to Markdown (files copied beside it, linked) and JSON, and the JSON's
import, over a real history with real run folders (the runs are made by the engine
with the small in-test experts of test_rerun)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from engine import events as ev
from engine.chats import ChatFileError, export_chat, import_chat
from engine.cli import main
from engine.history import HistoryStore
from test_rerun import CHAIN, make_engine

ROOT = Path(__file__).resolve().parents[1]
PLAN = CHAIN + [{"task": "image-classification", "id": 3, "dep": [-1], "args": {"image": "chelsea.png"}}]


@pytest.fixture
def chat(settings):
    """A conversation of two turns: one with an image attached, the second re-run."""
    engine, _ = make_engine(settings, [json.dumps(PLAN), "It is 'HELLO THERE'.", "Again."])
    events = list(engine.run("shout, count, say it and size the cat", [str(ROOT / "samples" / "chelsea.png")]))
    record = events[-1].record
    rerun = list(engine.rerun(record["run_id"], 2))
    assert isinstance(rerun[-1], ev.AnswerDone)
    conversation = engine.history.runs()[0].conversation_id
    return engine, conversation, record


def test_markdown_export_links_the_files_it_copies(chat, tmp_path):
    engine, conversation, record = chat
    out = export_chat(engine.history, conversation, tmp_path / "out", "md")
    assert out.name == f"shout-count-say-it-and-size-the-cat-{conversation}.md"
    text = out.read_text()
    assert text.startswith("# shout, count, say it and size the cat")
    assert text.count("## You") == 2 and text.count("## hgpt") == 2
    assert "It is 'HELLO THERE'." in text and "**How it was done**" in text
    assert "| [2] text-to-speech | test/tone | done |" in text and "| [0] translation | test/shout | done (cached) |" in text
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert any(link.endswith("chelsea.png") for link in links) and any(link.endswith("2-speech.wav") for link in links)
    assert "![chelsea.png](" in text and "[▶ 2-speech.wav](" in text
    for link in links:  # every link resolves to a copy beside the Markdown
        assert (out.parent / link).is_file(), link
    assert str(engine.settings.runs_dir) not in text  # the workflow names the copies, not the data folder
    wav = next(link for link in links if link.endswith("2-speech.wav"))
    assert (out.parent / wav).read_bytes() == Path(record["tasks"]["2"]["files"][0]).read_bytes()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_json_export_imports_back_into_another_data_folder(chat, tmp_path):
    engine, conversation, record = chat
    out = export_chat(engine.history, conversation, tmp_path / "out", "json")
    data = json.loads(out.read_text())
    assert data["format"] == "hgpt-chat" and len(data["runs"]) == 2 and len(data["messages"]) == 4
    first = data["runs"][0]["record"]
    assert first["tasks"]["2"]["provenance"]["model_id"] == "test/tone" and "run_dir" not in first
    assert first["provenance"]["controller"]["name"] == "scripted"

    other = HistoryStore(tmp_path / "other" / "hgpt.db")
    restored = import_chat(other, out, tmp_path / "other" / "runs")
    assert restored.title == "shout, count, say it and size the cat"
    old, new = engine.history.messages(conversation), other.messages(restored.id)
    assert [(m.role, m.content) for m in new] == [(m.role, m.content) for m in old]
    moved = lambda text: text.replace(str(engine.settings.runs_dir), str(tmp_path / "other" / "runs"))  # noqa: E731
    assert [m.details for m in new] == [json.loads(moved(json.dumps(m.details))) for m in old]
    runs = other.runs(restored.id)
    assert [r.id for r in runs] == [r.id for r in engine.history.runs(conversation)]
    assert runs[0].plan == record["plan"] and runs[0].status == "done"
    saved = json.loads((Path(runs[0].run_dir) / "run.json").read_text())
    wav = Path(saved["tasks"]["2"]["files"][0])
    assert wav.parent == Path(runs[0].run_dir) and wav.read_bytes() == Path(record["tasks"]["2"]["files"][0]).read_bytes()
    assert (Path(runs[0].run_dir) / "inputs" / "chelsea.png").is_file()
    assert runs[0].artifacts == [str(wav)]
    assert saved["tasks"]["2"]["provenance"] == record["tasks"]["2"]["provenance"]

    # into the same store again: the run ids are taken, so they get a suffix
    again = import_chat(engine.history, out, engine.settings.runs_dir)
    assert [r.id for r in engine.history.runs(again.id)] == [f"{r.id}-2" for r in runs]


def test_bad_imports_are_refused_and_write_nothing(chat, tmp_path):
    engine, conversation, _ = chat
    out = export_chat(engine.history, conversation, tmp_path / "out", "json")
    store = HistoryStore(tmp_path / "other" / "hgpt.db")
    runs_dir = tmp_path / "other" / "runs"

    def refused(path, message):
        with pytest.raises(ChatFileError, match=message):
            import_chat(store, path, runs_dir)
        assert store.conversations() == [] and not any(runs_dir.glob("*"))

    refused(tmp_path / "missing.json", "no such file")
    (tmp_path / "garbage.json").write_text("{ nope")
    refused(tmp_path / "garbage.json", "not an hgpt chat export .not JSON")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    refused(tmp_path / "other.json", "is not an hgpt chat export")
    data = json.loads(out.read_text())
    (tmp_path / "out" / "newer.json").write_text(json.dumps(data | {"version": 99}))
    refused(tmp_path / "out" / "newer.json", "format 99; this hgpt reads up to 1. Update hgpt")
    escape = json.loads(out.read_text())
    escape["files"][0]["path"] = "../../etc/passwd"
    (tmp_path / "out" / "escape.json").write_text(json.dumps(escape))
    refused(tmp_path / "out" / "escape.json", "names a file outside its folder")
    # damaged in shape: one line naming what is wrong, not a traceback or a database error
    for n, (damage, message) in enumerate([
        (lambda d: d | {"version": "2.0"}, "damaged hgpt chat export .its version is '2.0', not a number"),
        (lambda d: d | {"files": "x"}, "damaged hgpt chat export .its files are not a list"),
        (lambda d: d | {"runs": [{k: v for k, v in d["runs"][0].items() if k != "id"}]}, "run 0 has no id"),
        (lambda d: d | {"runs": [d["runs"][0], d["runs"][0]]}, f"run {data['runs'][0]['id']} is there twice"),
        (lambda d: d | {"messages": d["messages"] + [{"role": "system", "content": "x"}]},
         "message 4 is neither the user's nor the assistant's"),
        (lambda d: d | {"messages": [{"role": "user", "content": 3}]}, "message 0's text or details are not text"),
    ]):
        (tmp_path / "out" / f"damaged{n}.json").write_text(json.dumps(damage(json.loads(out.read_text()))))
        refused(tmp_path / "out" / f"damaged{n}.json", message)
    # a run naming a file that is in the folder but not in the export's list (so never checked by sha256)
    unlisted = json.loads(out.read_text())
    wav_path = next(f["path"] for f in unlisted["files"] if f["path"].endswith(".wav"))
    shutil.copyfile(tmp_path / "out" / wav_path, tmp_path / "out" / "extra.wav")
    unlisted["runs"][-1]["record"]["tasks"]["2"]["files"].append("extra.wav")
    (tmp_path / "out" / "unlisted.json").write_text(json.dumps(unlisted))
    refused(tmp_path / "out" / "unlisted.json", "names extra.wav, which is not in the export's file list")
    wav = next(f for f in data["files"] if f["path"].endswith(".wav"))
    target = tmp_path / "out" / wav["path"]
    target.write_bytes(target.read_bytes()[:-4] + b"\0\0\0\0")
    refused(out, "was changed since the export")
    target.unlink()
    refused(out, "is missing; copy the export's folder with it")


def test_chats_cli(chat, tmp_path, capsys, monkeypatch):
    engine, conversation, _ = chat
    monkeypatch.setattr("engine.cli.chats._store", lambda: engine.history)
    assert main(["chats", "list"]) == 0
    assert "shout, count, say it" in capsys.readouterr().out
    assert main(["chats", "export", str(conversation), "--format", "md", "--out", str(tmp_path / "md")]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written.suffix == ".md" and written.is_file()
    assert main(["chats", "export", str(conversation), "--format", "json", "--out", str(tmp_path / "js")]) == 0
    exported = Path(capsys.readouterr().out.strip())
    assert main(["chats", "import", str(exported)]) == 0
    assert "imported as conversation" in capsys.readouterr().out
    assert main(["chats", "export", "999", "--out", str(tmp_path / "x")]) == 2
    assert "there is no conversation 999" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "md")
