"""Bad inputs and faults, each tried for real: a clear one-line message, the run goes on
where it can, and the final answer says what failed.

Plans come from a scripted controller (the plan is the input under test); the
experts that read images and audio are the real EfficientNet-Lite0 and PocketSphinx,
and the file writer is the real ``engine.experts.media.write_wav``."""

from __future__ import annotations

import errno
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from _experts import loaded
from engine import events as ev
from engine.errors import AttachmentError, UserInputError
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.experts.media import write_wav
from engine.session import Engine
from engine.testing import scripted_planner
from engine.testing import ScriptedController


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("text-generation",)

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class Speaker(Expert):
    """Writes a short tone with the real WAV writer."""

    model_id = "test/speaker"
    tasks = ("text-to-speech",)

    def run(self, task, args, ctx):
        tone = np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)).astype(np.float32) * 0.3
        return ExpertResult(files=[write_wav(ctx.output_path("speech", ".wav"), tone, 16000)])


class Hungry(Expert):
    model_id = "test/hungry"
    tasks = ("summarization",)
    setups = 0

    def setup(self):
        Hungry.setups += 1

    def run(self, task, args, ctx):
        raise MemoryError()


class Raises(Expert):
    model_id = "test/raises"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        raise KeyError("decoder.layers.3")


def task(name, args, i=0):
    return {"task": name, "id": i, "dep": [-1], "args": args}


def run_plan(settings, plan, *experts, attachments=(), request="do it"):
    controller = ScriptedController([json.dumps(plan), "Done."])
    registry = ExpertRegistry(experts or [Upper()])
    engine = Engine(settings, controller=controller, registry=registry,
                    planner=scripted_planner(controller))
    events = list(engine.run(request, list(attachments)))
    assert isinstance(events[-1], ev.AnswerDone), events[-1]
    return events, events[-1]


def outcome(events, task_id: int) -> ev.Event:
    return next(e for e in events if isinstance(e, (ev.TaskFinished, ev.TaskFailed, ev.TaskSkipped))
                and e.task_id == task_id)


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and len(message) <= 400


# -- requests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("request_text, words", [("", "empty"), ("   \n ", "empty"),
                                                 ("x" * 1_000_000, "limit is")])
def test_empty_and_huge_requests_are_refused_before_anything_is_written(settings, request_text, words):
    engine = Engine(settings, controller=ScriptedController(), registry=ExpertRegistry([Upper()]))
    with pytest.raises(UserInputError, match=words) as info:
        engine.run(request_text)
    assert one_line(str(info.value)) and not settings.runs_dir.exists()


# -- images -----------------------------------------------------------------------------------------
def test_a_zero_byte_image_is_refused_at_attach_time(settings, tmp_path):
    empty = tmp_path / "empty.png"
    empty.touch()
    engine = Engine(settings, controller=ScriptedController(), registry=ExpertRegistry([Upper()]))
    with pytest.raises(AttachmentError, match=r"empty \(0 bytes\); attach a real image"):
        engine.run("what is this?", [empty])


@pytest.fixture(scope="module")
def classifier():
    from engine.experts.efficientnet import EfficientNetLite0

    return loaded(EfficientNetLite0)


def _truncated(images, tmp_path) -> Path:
    data = images["chelsea"].read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 3])
    return path


def _bomb(tmp_path, side: int = 30_000) -> Path:
    """A valid 1-bit PNG of side x side pixels (900 Mpixel) whose file is tiny: zeros compress."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze, row = zlib.compressobj(9), b"\x00" * (1 + side // 8)
    idat = b"".join(squeeze.compress(row * 1000) for _ in range(side // 1000)) + squeeze.flush()
    path = tmp_path / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    assert path.stat().st_size < 1_000_000
    return path


@pytest.mark.slow
def test_truncated_and_bomb_images_fail_their_task_and_the_run_goes_on(settings, classifier, images, tmp_path):
    truncated, bomb = _truncated(images, tmp_path), _bomb(tmp_path)
    plan = [task("image-classification", {"image": "truncated.png"}, 0),
            task("image-classification", {"image": "bomb.png"}, 1),
            task("image-classification", {"image": "chelsea.png"}, 2)]
    events, done = run_plan(settings, plan, classifier,
                            attachments=[truncated, bomb, images["chelsea"]])
    bad_trunc, bad_bomb, good = outcome(events, 0), outcome(events, 1), outcome(events, 2)
    assert isinstance(bad_trunc, ev.TaskFailed) and "truncated.png is not a readable image" in bad_trunc.error
    assert isinstance(bad_bomb, ev.TaskFailed) and "bomb.png" in bad_bomb.error
    assert "pixel" in bad_bomb.error and one_line(bad_bomb.error) and one_line(bad_trunc.error)
    assert isinstance(good, ev.TaskFinished) and "cat" in good.text.lower()
    assert "truncated.png is not a readable image" in done.text and "bomb.png" in done.text


# -- audio ------------------------------------------------------------------------------------------
def test_a_text_file_named_wav_is_refused_at_attach_time(settings, tmp_path):
    fake = tmp_path / "speech.wav"
    fake.write_text("this is not audio at all")
    engine = Engine(settings, controller=ScriptedController(), registry=ExpertRegistry([Upper()]))
    with pytest.raises(AttachmentError, match="does not look like an audio file"):
        engine.run("transcribe it", [fake])


@pytest.mark.slow
def test_a_riff_file_that_is_not_audio_fails_the_task_in_one_line(settings, tmp_path):
    from engine.experts.sphinx import PocketSphinxEnUs

    recogniser = loaded(PocketSphinxEnUs)
    fake = tmp_path / "speech.wav"
    fake.write_bytes(b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(64))  # a WebP header, named .wav
    plan = [task("automatic-speech-recognition", {"audio": "speech.wav"})]
    events, done = run_plan(settings, plan, recogniser, attachments=[fake])
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed) and "speech.wav is not readable audio" in failed.error
    assert one_line(failed.error) and "speech.wav is not readable audio" in done.text


def test_audio_given_to_an_image_task_is_refused_with_the_modality(settings, tmp_path):
    clip = tmp_path / "clip.wav"
    write_wav(clip, np.zeros(1600, dtype=np.float32), 16000)
    plan = [task("image-classification", {"image": "clip.wav"}, 0), task("text-generation", {"text": "ok"}, 1)]
    events, done = run_plan(settings, plan, Upper(), _NamedExpert("image-classification"), attachments=[clip])
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed)
    assert failed.error == ("clip.wav is audio, but image-classification's 'image' needs an image; "
                            "attach an image file for it")
    assert isinstance(outcome(events, 1), ev.TaskFinished)
    assert "needs an image" in done.text


class _NamedExpert(Expert):
    """An expert that would run any file it is given (so only the executor's check stops it)."""

    def __init__(self, task_name):
        self.model_id, self.tasks = f"test/any-{task_name}", (task_name,)
        super().__init__()

    def run(self, task, args, ctx):
        return ExpertResult(text=f"looked at {Path(next(iter(args.values()))).name}")


# -- plans ------------------------------------------------------------------------------------------
def test_unknown_task_types_are_dropped_and_named_in_the_answer(settings):
    plan = [task("make-coffee", {"text": "espresso"}, 0), task("text-generation", {"text": "hi"}, 1)]
    events, done = run_plan(settings, plan)
    ready = next(e for e in events if isinstance(e, ev.PlanReady))
    assert [t["task"] for t in ready.tasks] == ["text-generation"]
    assert any("unknown task 'make-coffee'; dropped" in r for r in ready.repairs)
    assert "What went wrong:" in done.text and "make-coffee" in done.text
    assert done.record["tasks"]["0"]["text"] == "HI"


def test_cyclic_and_dangling_dependencies_are_repaired_into_a_valid_order(settings):
    plan = [{"task": "text-generation", "id": 0, "dep": [1], "args": {"text": "<resource>-1 and more"}},
            {"task": "text-generation", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
            {"task": "text-generation", "id": 2, "dep": [7], "args": {"text": "from <resource>-7"}}]
    events, done = run_plan(settings, plan)
    ready = next(e for e in events if isinstance(e, ev.PlanReady))
    for t in ready.tasks:
        assert all(d < t["id"] for d in t["dep"] if d >= 0)
    assert any("dangling reference <resource>-7 removed" in r for r in ready.repairs)
    assert all(done.record["tasks"][str(t["id"])]["status"] == "done" for t in ready.tasks)
    assert "dangling reference" in done.text


def test_a_task_no_installed_model_can_run_fails_with_how_to_get_one(settings):
    plan = [task("depth-estimation", {"image": "chelsea.png"}, 0), task("text-generation", {"text": "hi"}, 1)]
    png = Path(__file__).resolve().parents[1] / "samples" / "chelsea.png"
    events, done = run_plan(settings, plan, attachments=[png])
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed) and failed.error.startswith("no installed model can run depth-estimation")
    assert isinstance(outcome(events, 1), ev.TaskFinished)
    assert "no installed model can run depth-estimation" in done.text


def test_a_damaged_catalog_leaves_selection_to_the_installed_experts(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.catalog_path.write_bytes(b"not sqlite " * 500)
    events, done = run_plan(settings, [task("text-generation", {"text": "hi"})])
    assert isinstance(outcome(events, 0), ev.TaskFinished)
    assert "catalog" in done.text and "hgpt catalog rebuild" in done.text


# -- faults while running ------------------------------------------------------------------------------
def test_a_full_disk_fails_the_task_with_disk_full_and_leaves_no_partial_file(settings, monkeypatch):
    def no_space(self, data):
        self._file.write(bytes(data)[:100])  # part of the file reached the disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wave.Wave_write, "writeframes", no_space)
    plan = [task("text-to-speech", {"text": "hello"}, 0), task("text-generation", {"text": "hi"}, 1)]
    events, done = run_plan(settings, plan, Upper(), Speaker())
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed) and failed.error.startswith("disk full: text-to-speech")
    assert "free some disk space" in failed.error and one_line(failed.error)
    assert isinstance(outcome(events, 1), ev.TaskFinished)
    run_dir = Path(done.record["run_dir"])
    assert sorted(p.name for p in run_dir.iterdir()) == ["inputs", "run.json"]
    assert "disk full" in done.text


def test_an_expert_out_of_memory_is_unloaded_and_the_run_goes_on(settings):
    hungry = Hungry()
    plan = [task("summarization", {"text": "a long text"}, 0), task("text-generation", {"text": "hi"}, 1)]
    events, done = run_plan(settings, plan, Upper(), hungry)
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed)
    assert failed.error.startswith("test/hungry ran out of memory on summarization and was unloaded")
    assert not hungry.loaded and Hungry.setups == 1
    assert isinstance(outcome(events, 1), ev.TaskFinished) and "ran out of memory" in done.text


def test_an_expert_that_raises_is_reported_in_one_line(settings):
    plan = [task("translation", {"text": "hola"}, 0), task("text-generation", {"text": "hi"}, 1)]
    events, done = run_plan(settings, plan, Upper(), Raises())
    failed = outcome(events, 0)
    assert isinstance(failed, ev.TaskFailed) and failed.error == "KeyError: 'decoder.layers.3'"
    assert isinstance(outcome(events, 1), ev.TaskFinished) and "decoder.layers.3" in done.text


# -- the data folder itself cannot be written ------------------------------------------------------------
def test_a_full_disk_at_run_start_is_one_line_and_leaves_no_run_folder(settings, monkeypatch):
    from engine.errors import StorageError
    from engine.record import RunRecord

    def no_space(self):
        raise OSError(errno.ENOSPC, "No space left on device", "run.json")

    monkeypatch.setattr(RunRecord, "save", no_space)
    engine = Engine(settings, controller=ScriptedController(), registry=ExpertRegistry([Upper()]))
    with pytest.raises(StorageError, match=r"^disk full: cannot write the run folder \(run.json\); free some"):
        next(engine.run("write hi"))
    assert list(settings.runs_dir.iterdir()) == []


def test_the_cli_goes_on_when_the_history_database_fills_up(settings, monkeypatch, capsys):
    import sqlite3

    import engine.experts.registry as registry_module
    import engine.controller as llm_module
    import engine.plan.planner as planning_module
    from engine.cli import main
    from engine.history import HistoryStore

    def full(self, record):
        raise sqlite3.OperationalError("database or disk is full")

    plan = [task("text-generation", {"text": "hi"})]
    controller = ScriptedController([json.dumps(plan), "It says HI."])
    monkeypatch.setattr(llm_module, "load_controller", lambda s: controller)
    monkeypatch.setattr(registry_module, "build_registry", lambda s=None: ExpertRegistry([Upper()]))
    monkeypatch.setattr(planning_module, "default_planner", lambda c, **k: scripted_planner(c))
    monkeypatch.setattr(HistoryStore, "update_run", full)
    assert main(["ask", "write hi"]) == 0
    captured = capsys.readouterr()
    assert "It says HI." in captured.out
    assert captured.err.strip() == ("hgpt: the history stops recording this run: disk full: cannot write the "
                                    "history database; free some disk space and try again")


def test_run_json_leaves_no_temp_file_when_the_write_fails(tmp_path, monkeypatch):
    from engine.record import write_json_atomic

    def fail(self, *a, **k):
        Path.write_bytes(self, b"{half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", fail)
    with pytest.raises(OSError):
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []
