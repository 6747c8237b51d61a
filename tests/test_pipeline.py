"""The pipeline's own logic with a scripted controller and simple in-test experts:
event order, resource substitution, parallelism, failure isolation, cancellation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from engine import events as ev
from engine.cancel import CancelToken
from engine.errors import AttachmentError, UserInputError
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.testing import scripted_planner
from engine.session import Engine
from engine.testing import ScriptedController


class Echo(Expert):
    """Writes its text input to a file and returns it upper-cased (real, if trivial, work)."""

    model_id = "test/echo"
    tasks = ("text-to-speech", "translation")

    def run(self, task, args, ctx):
        out = ctx.output_path("echo", ".wav")
        out.write_bytes(b"RIFF" + args["text"].encode())
        return ExpertResult(text=args["text"].upper(), files=[out])


class Slow(Expert):
    model_id = "test/slow"
    tasks = ("summarization", "text-generation")
    active = 0
    peak = 0
    lock = threading.Lock()

    def run(self, task, args, ctx):
        with Slow.lock:
            Slow.active += 1
            Slow.peak = max(Slow.peak, Slow.active)
        time.sleep(0.3)
        with Slow.lock:
            Slow.active -= 1
        return ExpertResult(text=f"{task}:{args['text']}")


class Broken(Expert):
    model_id = "test/broken"
    tasks = ("image-classification",)

    def run(self, task, args, ctx):
        raise ValueError("weights are corrupt")


def make_engine(settings, replies, *experts):
    registry = ExpertRegistry(experts or (Echo(), Slow(), Broken()))
    controller = ScriptedController(replies)
    return Engine(settings, controller=controller, registry=registry, planner=scripted_planner(controller)), controller


def plan(*tasks):
    return json.dumps([{"task": t, "id": i, "dep": [-1], "args": a} for i, (t, a) in enumerate(tasks)])


def drain(stream):
    return list(stream)


def test_events_in_order_and_record_saved(settings):
    engine, llm = make_engine(settings, [
        plan(("translation", {"text": "hola"}), ("text-to-speech", {"text": "<resource>-0"})),
        "It says HOLA.",
    ])
    events = drain(engine.run("translate hola and read it"))
    kinds = [e.kind for e in events]
    assert kinds[0] == "RunStarted" and kinds[-1] == "AnswerDone"
    assert kinds.index("PlanReady") < kinds.index("ModelSelected") < kinds.index("TaskStarted")
    finished = [e for e in events if isinstance(e, ev.TaskFinished)]
    assert finished[1].text == "HOLA"  # task 1 got task 0's text output
    done = events[-1]
    assert done.text.startswith("It says HOLA.")
    assert "test/echo" in done.text and finished[1].files[0] in done.text
    record = json.loads((Path(done.record["run_dir"]) / "run.json").read_text())
    assert record["status"] == "done" and record["plan"][1]["dep"] == [0]


def test_independent_tasks_run_in_parallel(settings):
    engine, _ = make_engine(settings, [
        plan(("summarization", {"text": "a"}), ("text-generation", {"text": "b"})), "ok"])
    Slow.peak = 0
    drain(engine.run("do both"))
    assert Slow.peak == 2


def test_failure_skips_dependents_but_not_others(settings, tmp_path):
    img = tmp_path / "x.png"
    img.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    engine, _ = make_engine(settings, [json.dumps([
        {"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "x.png"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
        {"task": "translation", "id": 2, "dep": [-1], "args": {"text": "ciao"}},
    ]), "partly"])
    events = drain(engine.run("classify, speak, translate", [str(img)]))
    failed = [e for e in events if isinstance(e, ev.TaskFailed)]
    skipped = [e for e in events if isinstance(e, ev.TaskSkipped)]
    assert failed[0].task_id == 0 and "weights are corrupt" in failed[0].error
    assert skipped[0].task_id == 1 and "task 0" in skipped[0].reason
    assert any(isinstance(e, ev.TaskFinished) and e.task_id == 2 for e in events)
    assert "failed" in events[-1].text


def test_task_without_installed_model_fails_clearly(settings, tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    engine, _ = make_engine(settings, [plan(("depth-estimation", {"image": "a.png"})), "no"], Echo())
    events = drain(engine.run("depth please", [tmp_path / "a.png"]))
    failed = [e for e in events if isinstance(e, ev.TaskFailed)]
    assert "no installed model can run depth-estimation" in failed[0].error


def test_empty_plan_answers_directly(settings):
    engine, llm = make_engine(settings, ["[]", "Hello there!"])
    events = drain(engine.run("hi"))
    assert events[-1].text == "Hello there!"


def test_selection_with_several_candidates_asks_the_controller(settings):
    class Echo2(Echo):
        model_id = "test/echo2"
        downloads = 5

    engine, llm = make_engine(settings, [
        plan(("translation", {"text": "x"})),
        '{"id": "test/echo", "reason": "it echoes"}', "done"], Echo(), Echo2())
    events = drain(engine.run("translate x"))
    chosen = next(e for e in events if isinstance(e, ev.ModelSelected))
    assert chosen.model_id == "test/echo" and chosen.reason == "it echoes"
    assert [c["id"] for c in chosen.candidates] == ["test/echo2", "test/echo"]
    assert 'test/echo2' in llm.calls[1]["grammar"]


def test_cancel_between_steps(settings):
    engine, _ = make_engine(settings, [plan(("summarization", {"text": "a"})), "x"])
    cancel = CancelToken()
    events = []
    for event in engine.run("sum", cancel=cancel):
        events.append(event)
        if isinstance(event, ev.PlanReady):
            cancel.cancel()
    assert events[-1].kind == "RunCancelled"
    record = json.loads((Path(events[0].run_dir) / "run.json").read_text())
    assert record["status"] == "cancelled"


def test_bad_input_is_refused_before_anything_is_written(settings, tmp_path):
    engine, _ = make_engine(settings, [])
    with pytest.raises(UserInputError):
        engine.run("   ")
    with pytest.raises(AttachmentError, match="no such file"):
        engine.run("look", [str(tmp_path / "missing.png")])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(AttachmentError, match="empty"):
        engine.run("look", [str(empty)])
    fake = tmp_path / "notes.wav"
    fake.write_text("just text")
    with pytest.raises(AttachmentError, match="does not look like"):
        engine.run("listen", [str(fake)])
    assert not settings.runs_dir.exists()


def test_argument_naming_an_unattached_file_fails_that_task(settings):
    engine, _ = make_engine(settings, [plan(("image-classification", {"image": "/etc/passwd"})), "x"])
    events = drain(engine.run("classify"))
    failed = [e for e in events if isinstance(e, ev.TaskFailed)]
    assert "not an attached file" in failed[0].error


def test_an_attached_text_file_gives_a_text_slot_its_words(settings, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("The board approved the budget.\nHiring resumes in January.\n", encoding="utf-8")
    engine, _ = make_engine(settings, [plan(("summarization", {"text": "notes.txt"})), "Done."])
    events = drain(engine.run("Summarize this", [notes]))
    done = next(e for e in events if isinstance(e, ev.TaskFinished))
    assert done.text == "summarization:The board approved the budget.\nHiring resumes in January."


@pytest.mark.parametrize("content, why", [(b"\x00\x01\x02binary", "does not look like a text file"),
                                          (b"\xff\xfe\xfa not utf-8 at all", "does not look like a text file")])
def test_a_file_named_txt_that_is_not_text_is_refused_at_attach_time(settings, tmp_path, content, why):
    fake = tmp_path / "notes.txt"
    fake.write_bytes(content)
    engine, _ = make_engine(settings, [])
    with pytest.raises(AttachmentError, match=why):
        engine.run("Summarize this", [fake])


def test_a_later_step_gets_a_classifiers_label_not_its_score():
    from engine.experts import ExpertResult

    ranked = ExpertResult(text="tiger cat (38%)", data={"labels": [{"label": "tiger cat", "score": 0.38},
                                                                   {"label": "tabby", "score": 0.2}]})
    assert ranked.passed_on == "tiger cat"
    assert ExpertResult(text="A cat on a mat.").passed_on == "A cat on a mat."
    assert ExpertResult(text="x", data={"labels": []}).passed_on == "x"


def test_a_candidate_used_far_more_than_the_others_is_taken_without_asking(settings):
    """A small controller picked PocketSphinx (no Hub figure) over Whisper (about 100,000
    downloads) and the transcript was nonsense: an installed first candidate used ten times as
    much as any other is taken unasked; comparable ones still go to the controller."""
    class Popular(Echo):
        model_id = "test/popular"
        downloads = 100_000

    class Rare(Echo):
        model_id = "test/rare"
        downloads = 3

    engine, llm = make_engine(settings, [plan(("translation", {"text": "x"})), "done"], Popular(), Rare())
    events = drain(engine.run("translate x"))
    chosen = next(e for e in events if isinstance(e, ev.ModelSelected))
    assert chosen.model_id == "test/popular" and "without asking" in chosen.reason
    assert not any(c.get("grammar") and "test/rare" in c["grammar"] for c in llm.calls)
