"""Re-running part of a recorded run, replaying it, and the results cache — with small
in-test experts that count their calls (the events and the counts both prove which
tasks ran) and real SQLite, run folders and files. A scripted controller writes the
plan and the answer: what is tested is the code after planning. The same with the
real experts (RapidOCR → spaCy → Piper) is in test_rerun_real.py."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from engine import events as ev
from engine.errors import UserInputError
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.rerun import Changes, RunRecordError
from engine.results_cache import ResultsCache
from engine.session import Engine
from engine.testing import ScriptedController, scripted_planner

CALLS: dict[str, int] = {}


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


class Shout(Expert):
    model_id = "test/shout"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        _count(self.model_id)
        return ExpertResult(text=args["text"].upper())


class Count(Expert):
    model_id = "test/count"
    tasks = ("summarization",)

    def run(self, task, args, ctx):
        _count(self.model_id)
        return ExpertResult(text=f"{len(args['text'])} letters: {args['text']}", data={"letters": len(args["text"])})


class Tone(Expert):
    """Text to speech as a tone whose pitch follows the text: a real 16-bit WAV."""

    model_id = "test/tone"
    tasks = ("text-to-speech",)
    noise = 0.0  # > 0: a different random hiss each call (not deterministic)

    def run(self, task, args, ctx):
        _count(self.model_id)
        rate = 8000
        t = np.arange(rate // 4) / rate
        audio = 0.5 * np.sin(2 * np.pi * (200 + 10 * len(args["text"])) * t)
        if self.noise:
            audio = audio + np.random.default_rng().normal(0, self.noise, audio.shape)
        path = ctx.output_path("speech", ".wav")
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        return ExpertResult(text=f"read aloud: {args['text']}", files=[path])


class Size(Expert):
    model_id = "test/size"
    tasks = ("image-classification",)

    def run(self, task, args, ctx):
        _count(self.model_id)
        return ExpertResult(text=f"{Path(args['image']).stat().st_size} bytes")


CHAIN = [{"task": "translation", "id": 0, "dep": [-1], "args": {"text": "hello there"}},
         {"task": "summarization", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
         {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<resource>-1"}}]


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    Tone.noise = 0.0


def make_engine(settings, replies, experts=None):
    controller = ScriptedController(replies)
    registry = ExpertRegistry(experts or [Shout(), Count(), Tone(), Size()])
    return Engine(settings, controller=controller, registry=registry, planner=scripted_planner(controller)), controller


def kinds(events, cls):
    return [e for e in events if isinstance(e, cls)]


def first_run(settings, plan=CHAIN, replies=("It is done.",), attachments=(), extra=()):
    engine, controller = make_engine(settings, [json.dumps(plan), *replies, *extra])
    events = list(engine.run("shout, count and say it", list(attachments)))
    assert isinstance(events[-1], ev.AnswerDone), events[-1]
    return engine, controller, events[-1].record


# -- re-run -------------------------------------------------------------------------------------
def test_rerun_from_the_second_task_runs_only_tasks_two_and_three(settings):
    engine, controller, record = first_run(settings, extra=["Done again."])
    assert CALLS == {"test/shout": 1, "test/count": 1, "test/tone": 1}
    events = list(engine.rerun(record["run_id"], 1))
    started = [e.task_id for e in kinds(events, ev.TaskStarted)]
    finished = {e.task_id: e for e in kinds(events, ev.TaskFinished)}
    assert started == [1, 2]  # the events prove it: task 0 never started
    assert finished[0].cached and not finished[1].cached and not finished[2].cached
    assert finished[0].provenance["reused_from"] == record["run_id"]
    assert CALLS == {"test/shout": 1, "test/count": 2, "test/tone": 2}
    done = events[-1]
    assert isinstance(done, ev.AnswerDone) and done.answer["direct"] == "Done again."
    new = done.record
    assert new["run_id"] != record["run_id"] and new["origin"] == {
        "kind": "rerun", "run_id": record["run_id"], "from_task": 1, "changes": {"args": {}, "models": {}},
        "rerun_tasks": [1, 2], "kept_tasks": [0]}
    # task 0's result was copied into the new run's folder; the recomputed ones are the same
    assert new["tasks"]["0"]["text"] == "HELLO THERE" and new["tasks"]["0"]["cached"] is True
    assert new["tasks"]["2"]["text"] == record["tasks"]["2"]["text"]
    wav = Path(new["tasks"]["2"]["files"][0])
    assert wav.parent == Path(new["run_dir"])
    assert wav.read_bytes() == Path(record["tasks"]["2"]["files"][0]).read_bytes()
    # a new run in the same conversation
    runs = engine.history.runs()
    assert [r.id for r in runs] == [record["run_id"], new["run_id"]]
    assert runs[0].conversation_id == runs[1].conversation_id
    assert [m.role for m in engine.history.messages(runs[0].conversation_id)] == ["user", "assistant"] * 2


def test_rerun_with_a_changed_argument_and_model(settings):
    class Whisper(Shout):
        model_id = "test/whisper"

        def run(self, task, args, ctx):
            _count(self.model_id)
            return ExpertResult(text=args["text"].lower())

    engine, _, record = first_run(settings, extra=["Changed."])
    engine.registry.register(Whisper())
    changes = Changes.parse(sets=["0.text=Good Morning"], models=["0=test/whisper"])
    events = list(engine.rerun(record["run_id"], 2, changes))
    started = [e.task_id for e in kinds(events, ev.TaskStarted)]
    assert started == [0, 1, 2]  # task 0 changed, so it and everything after it run
    finished = {e.task_id: e for e in kinds(events, ev.TaskFinished)}
    assert finished[0].text == "good morning" and finished[0].model_id == "test/whisper"
    assert finished[1].text == "12 letters: good morning"
    selected = {e.task_id: e for e in kinds(events, ev.ModelSelected)}
    assert selected[0].reason == "changed by you for this re-run"
    assert selected[1].reason == f"as recorded in run {record['run_id']}"
    assert events[-1].record["plan"][0]["args"]["text"] == "Good Morning"


def test_rerun_of_the_last_task_alone(settings):
    engine, _, record = first_run(settings, extra=["Said."])
    events = list(engine.rerun(record["run_id"], 2, Changes.parse(sets=["2.text=something else"])))
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [2]
    assert [e.task_id for e in kinds(events, ev.TaskFinished) if e.cached] == [0, 1]
    assert events[-1].record["tasks"]["2"]["text"] == "read aloud: something else"


def test_kept_tasks_cost_no_history_commits_and_computed_ones_are_kept_at_once(settings, monkeypatch):
    from engine.history import HistoryStore

    engine, controller, chain = first_run(settings)
    controller.enqueue(json.dumps([dict(CHAIN[2], id=0, dep=[-1], args={"text": "11 letters: HELLO THERE"})]), "Said.")
    one = list(engine.run("say it"))[-1].record
    writes = []
    real = HistoryStore.update_run
    monkeypatch.setattr(HistoryStore, "update_run", lambda self, record: writes.append(1) or real(self, record))

    def commits(stream):
        writes.clear()
        events = []
        for event in stream:  # the engine writes after the consumer has seen the event: look at the next one
            last = events[-1] if events else None
            if isinstance(last, ev.TaskFinished) and not last.cached:  # a computed result is kept at once
                assert str(last.task_id) in engine.history.run(last.run_id).results
            if isinstance(last, ev.TaskStarted):  # and the selections before a task runs
                assert str(last.task_id) in engine.history.run(last.run_id).selections
            events.append(event)
        assert isinstance(events[-1], ev.AnswerDone)
        return len(writes), events[-1].record

    controller.enqueue("Said.", "Said.")
    kept_two, rerun = commits(engine.rerun(chain["run_id"], 2))
    alone, _ = commits(engine.rerun(one["run_id"], 0))
    assert (kept_two, alone) == (3, 3)  # the plan, the selections before execution, the task's result
    # what was not written on the way is there at the end
    assert engine.history.run(rerun["run_id"]).results["0"]["text"] == "HELLO THERE"
    assert engine.history.run(rerun["run_id"]).selections.keys() == {"0", "1", "2"}


def test_a_value_or_model_given_as_recorded_changes_nothing(settings):
    engine, _, record = first_run(settings, extra=["Said."])
    same = Changes.parse(sets=["0.text=hello there", "1.text=<resource>-0"], models=["1=test/count"])
    events = list(engine.rerun(record["run_id"], 2, same))
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [2]  # tasks 0 and 1 are kept
    assert [e.task_id for e in kinds(events, ev.TaskFinished) if e.cached] == [0, 1]
    assert events[-1].record["origin"]["kept_tasks"] == [0, 1]
    assert {e.task_id: e.reason for e in kinds(events, ev.ModelSelected)}[1] == f"as recorded in run {record['run_id']}"


# -- bad input: one clear line, nothing written ------------------------------------------------------
def _runs(settings):
    return sorted(p.name for p in settings.runs_dir.iterdir())


def test_rerun_refuses_bad_requests_before_writing_anything(settings, tmp_path):
    audio = tmp_path / "voice.wav"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "samples" / "chelsea.png", tmp_path / "other.png")
    plan = CHAIN + [{"task": "image-classification", "id": 3, "dep": [-1], "args": {"image": "cat.png"}}]
    cat = tmp_path / "cat.png"
    shutil.copyfile(tmp_path / "other.png", cat)
    engine, _, record = first_run(settings, plan=plan, attachments=[cat], extra=["With the other picture."])
    run_id = record["run_id"]
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    before = _runs(settings)
    cases = {
        "no-such-run": (lambda: engine.rerun("20990101-000000-abcdef", 0), "there is no run"),
        "path-as-id": (lambda: engine.rerun("../../etc", 0), "there is no run"),
        "task-not-in-plan": (lambda: engine.rerun(run_id, 7), "has no task 7; its tasks are 0 (translation)"),
        "unknown-argument": (lambda: engine.rerun(run_id, 1, Changes.parse(sets=["1.colour=red"])),
                             "task 1 (summarization) has no argument 'colour'; its arguments are text"),
        "text-for-an-image": (lambda: engine.rerun(run_id, 3, Changes.parse(sets=["3.image=a red bus"])),
                              "task 3's image needs an image"),
        "audio-for-an-image": (lambda: engine.rerun(run_id, 3, Changes.parse(sets=[f"3.image={audio}"])),
                               "voice.wav is an audio"),
        "later-reference": (lambda: engine.rerun(run_id, 1, Changes.parse(sets=["1.text=<resource>-2"])),
                            "may refer only to earlier tasks"),
        "wrong-output-kind": (lambda: engine.rerun(run_id, 3, Changes.parse(sets=["3.image=<resource>-2"])),
                              "<resource>-2 is an audio"),
        "unknown-model": (lambda: engine.rerun(run_id, 0, Changes.parse(models=["0=nobody/nothing"])),
                          "'nobody/nothing' is not an installed model; models that can do task 0"),
        "model-cannot": (lambda: engine.rerun(run_id, 0, Changes.parse(models=["0=test/tone"])),
                         "test/tone cannot do task 0 (translation)"),
        "bad-set-syntax": (lambda: Changes.parse(sets=["text=hi"]), "write TASK.ARG=VALUE"),
        "bad-model-syntax": (lambda: Changes.parse(models=["whisper"]), "write TASK=MODEL"),
    }
    for name, (call, message) in cases.items():
        with pytest.raises(UserInputError) as caught:
            call()
        assert message in str(caught.value), (name, str(caught.value))
        assert "\n" not in str(caught.value), name
    assert _runs(settings) == before  # nothing half-written
    # a new file for an image slot is attached to the re-run
    events = list(engine.rerun(run_id, 3, Changes.parse(sets=[f"3.image={tmp_path / 'other.png'}"])))
    assert kinds(events, ev.TaskFinished)[-1].task_id == 3 and "other.png" in events[-1].record["attachments"]


def test_rerun_refuses_a_run_whose_folder_or_record_changed(settings):
    plan = [{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": "hello"}},
            {"task": "translation", "id": 1, "dep": [-1], "args": {"text": "bye"}}]
    engine, _, record = first_run(settings, plan=plan, extra=["Again."])
    run_id, run_dir = record["run_id"], Path(record["run_dir"])
    kept = Path(record["tasks"]["0"]["files"][0])
    original = kept.read_bytes()
    kept.write_bytes(original[:-10] + b"0" * 10)  # an output the re-run would keep was changed
    with pytest.raises(RunRecordError, match=r"output 0-speech.wav \(task 0\) was changed since the run; "
                                             r"re-run from task 0"):
        engine.rerun(run_id, 1)
    kept.unlink()
    with pytest.raises(RunRecordError, match=r"output 0-speech.wav \(task 0\) was deleted"):
        engine.rerun(run_id, 1)
    events = list(engine.rerun(run_id, 0))  # re-running task 0 itself does not need its old output
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [0]
    # run.json edited: the plan no longer matches the history's copy
    saved = (run_dir / "run.json").read_text()
    edited = json.loads(saved)
    edited["plan"][1]["args"]["text"] = "something I never asked"
    (run_dir / "run.json").write_text(json.dumps(edited))
    with pytest.raises(RunRecordError, match="run.json was edited since the run .its plan differs"):
        engine.rerun(run_id, 1)
    (run_dir / "run.json").write_text("{ not json")
    with pytest.raises(RunRecordError, match="run.json is damaged"):
        engine.replay(run_id)
    (run_dir / "run.json").write_text(saved)
    shutil.rmtree(run_dir)
    with pytest.raises(RunRecordError, match=f"run {run_id}'s folder .* was deleted"):
        engine.rerun(run_id, 1)


def test_rerun_refuses_a_changed_input(settings, tmp_path):
    cat = tmp_path / "cat.png"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "samples" / "chelsea.png", cat)
    plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "cat.png"}}]
    engine, _, record = first_run(settings, plan=plan, attachments=[cat])
    staged = Path(record["run_dir"]) / "inputs" / "cat.png"
    staged.write_bytes(staged.read_bytes() + b"x")
    with pytest.raises(RunRecordError, match="input cat.png was changed since the run"):
        engine.replay(record["run_id"])
    staged.unlink()
    with pytest.raises(RunRecordError, match="input cat.png was deleted"):
        engine.rerun(record["run_id"], 0)


# -- replay ---------------------------------------------------------------------------------------
def test_replay_reports_identical_within_tolerance_and_differs(settings):
    engine, _, record = first_run(settings)
    events = list(engine.replay(record["run_id"]))
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [0, 1, 2]  # the cache is not read
    compared = kinds(events, ev.ReplayCompared)[0]
    assert [t["verdict"] for t in compared.tasks] == ["identical"] * 3
    done = events[-1]
    assert done.record["replay"]["of_run"] == record["run_id"]
    assert done.answer["direct"] == f"Replay of run {record['run_id']}: 3 identical."
    assert len(engine.history.runs()) == 1  # a replay is not a turn of the conversation

    Tone.noise = 0.5 / 32768  # hiss below one step of 16-bit audio: rounding moves a few samples
    compared = kinds(list(engine.replay(record["run_id"])), ev.ReplayCompared)[0]
    tone = compared.tasks[2]
    assert tone["verdict"] == "within tolerance" and "audio differs by" in tone["why"], tone

    Tone.noise = 0.05
    compared = kinds(list(engine.replay(record["run_id"])), ev.ReplayCompared)[0]
    tone = compared.tasks[2]
    assert tone["verdict"] == "differs"
    assert "same model, libraries, device, settings and inputs: test/tone is not deterministic" in tone["why"]


# -- the results cache --------------------------------------------------------------------------------
def test_a_request_run_again_takes_its_results_from_the_cache(settings):
    engine, controller, record = first_run(settings)
    controller.enqueue(json.dumps(CHAIN), "Again.")
    events = list(engine.run("shout, count and say it"))
    assert kinds(events, ev.TaskStarted) == []
    finished = kinds(events, ev.TaskFinished)
    assert [e.cached for e in finished] == [True] * 3
    assert CALLS == {"test/shout": 1, "test/count": 1, "test/tone": 1}
    new = events[-1].record
    assert all(new["tasks"][k]["cached"] for k in "012")
    wav = Path(new["tasks"]["2"]["files"][0])
    assert wav.parent == Path(new["run_dir"]) and wav.name == "2-speech.wav"
    assert wav.read_bytes() == Path(record["tasks"]["2"]["files"][0]).read_bytes()
    assert new["tasks"]["2"]["provenance"]["cache"]["from_run"] == record["run_id"]

    # a request whose first task changed: its first task misses, and so does what follows
    changed = [dict(CHAIN[0], args={"text": "good night"})] + CHAIN[1:]
    controller.enqueue(json.dumps(changed), "Other.")
    events = list(engine.run("shout, count and say it"))
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [0, 1, 2]

    # a cached file that was deleted: that task is computed again
    cache = ResultsCache(settings.results_dir)
    for _, _, folder in cache.entries():
        for f in folder.iterdir():
            if f.suffix == ".wav":
                f.unlink()
    controller.enqueue(json.dumps(CHAIN), "Once more.")
    events = list(engine.run("shout, count and say it"))
    assert [e.task_id for e in kinds(events, ev.TaskStarted)] == [2]
    assert isinstance(events[-1], ev.AnswerDone)

    # deleted again, then a replay (which computes without reading the cache) puts the entry back whole
    def delete_cached_wavs():
        gone = [f for _, _, folder in cache.entries() for f in folder.iterdir() if f.suffix == ".wav"]
        for f in gone:
            f.unlink()
        return len(gone)

    assert delete_cached_wavs() == 1
    assert isinstance(list(engine.replay(record["run_id"]))[-1], ev.AnswerDone)
    controller.enqueue(json.dumps(CHAIN), "And again.")
    events = list(engine.run("shout, count and say it"))
    assert kinds(events, ev.TaskStarted) == [] and all(e.cached for e in kinds(events, ev.TaskFinished))


def test_the_cache_key_covers_inputs_model_and_settings(settings, tmp_path):
    cache = ResultsCache(tmp_path / "results")
    image = tmp_path / "a.png"
    image.write_bytes(b"\x89PNG one")
    first = cache.key("image-classification", Size(), {"image": image})
    assert cache.key("image-classification", Size(), {"image": image}) == first
    image.write_bytes(b"\x89PNG two")
    assert cache.key("image-classification", Size(), {"image": image}) != first

    class NewerSize(Size):
        source = "pypi:size-model==2.0"

    assert cache.key("image-classification", NewerSize(), {"image": image}) != \
        cache.key("image-classification", Size(), {"image": image})

    class Seeded(Size):
        def __init__(self, seed):
            super().__init__()
            self.options = {"seed": seed}

    assert cache.key("image-classification", Seeded(1), {"image": image}) != \
        cache.key("image-classification", Seeded(2), {"image": image})


def test_the_cache_is_bounded_and_can_be_turned_off(settings):
    from engine.experts.base import ExpertContext

    cache = ResultsCache(settings.results_dir, limit_mb=1)
    run_dir = settings.home / "scratch"
    for i in range(4):
        ctx = ExpertContext(run_dir, i)
        path = ctx.output_path("blob", ".bin")
        path.write_bytes(bytes([i]) * 400_000)
        assert cache.put(f"{i:064x}", ExpertResult(text=str(i), files=[path]), {})
    assert cache.size_bytes() <= 1 << 20 and len(cache.entries()) == 2
    hit = cache.get(f"{3:064x}", ExpertContext(run_dir, 9))  # the newest survived
    assert hit is not None and hit.result.text == "3" and hit.result.files[0].read_bytes()[:1] == b"\x03"
    assert cache.get(f"{0:064x}", ExpertContext(run_dir, 9)) is None  # the oldest went

    engine, _, _ = first_run(settings.with_(results_cache_mb=0, home=settings.home / "off"))
    assert not (settings.home / "off" / "cache" / "results").exists()


# -- provenance -----------------------------------------------------------------------------------
def test_every_task_and_the_run_carry_provenance(settings):
    from engine.provenance import sha256_of

    _, _, record = first_run(settings)
    task = record["tasks"]["2"]["provenance"]
    assert task["model_id"] == "test/tone" and task["seed"] is None
    assert task["inputs"]["text"]["chars"] == len(record["tasks"]["1"]["text"])
    wav = Path(record["tasks"]["2"]["files"][0])
    assert task["outputs"]["files"] == [{"file": wav.name, "sha256": sha256_of(wav), "size": wav.stat().st_size}]
    assert len(task["cache_key"]) == 64
    run = record["provenance"]
    assert run["controller"]["name"] == "scripted" and run["hgpt"]
    assert "numpy" in run["libraries"]
    saved = json.loads((Path(record["run_dir"]) / "run.json").read_text())
    assert saved["tasks"]["2"]["provenance"] == task  # JSON-safe, in run.json too
