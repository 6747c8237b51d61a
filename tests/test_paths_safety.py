"""Paths: a plan reaches only the user's attachments and earlier outputs, and outputs
stay inside the run's folder, whatever a model or a review wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import events as ev
from engine.errors import ExpertError
from engine.execute import resolve_args
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.experts.base import ExpertContext
from engine.session import Engine
from engine.plan.graph import Task
from engine.testing import scripted_planner
from engine.references import resolve_attachment
from engine.tasks import TASK_TYPES
from engine.testing import ScriptedController

ESCAPES = ["/etc/passwd", "../../x.png", "../chelsea.png", "~/.ssh/id_rsa", "~root/x.png",
           "file:///etc/passwd", "file:chelsea.png", "C:\\Windows\\win.ini", "..\\..\\chelsea.png",
           "\\\\server\\share\\chelsea.png", "samples/../../chelsea.png", "/tmp/chelsea.png"]


@pytest.fixture
def attached(tmp_path) -> dict[str, Path]:
    staged = tmp_path / "run" / "inputs"
    staged.mkdir(parents=True)
    (staged / "chelsea.png").write_bytes(b"\x89PNG")
    (staged / "clip.wav").write_bytes(b"RIFF")
    return {"chelsea.png": staged / "chelsea.png", "clip.wav": staged / "clip.wav"}


@pytest.mark.parametrize("value", ESCAPES)
def test_paths_outside_the_attachments_are_refused(value, attached):
    with pytest.raises(ExpertError, match="is not an attached file: a plan may only use your attachments"):
        resolve_attachment(value, "image", attached)


@pytest.mark.parametrize("value", ["http://example.org/cat.png", "https://huggingface.co/x/resolve/main/a.png",
                                   "ftp://host/cat.png", "data:image/png;base64,iVBOR", "s3://bucket/cat.png"])
def test_urls_are_refused_offline_with_the_reason(value, attached):
    with pytest.raises(ExpertError, match="is a URL and offline mode is on, so hgpt downloads nothing; "
                                          "save the image and attach it"):
        resolve_attachment(value, "image", attached, offline=True)
    with pytest.raises(ExpertError, match="hgpt does not download files a plan names"):
        resolve_attachment(value, "image", attached, offline=False)


@pytest.mark.parametrize("value", ["chelsea.png", " chelsea.png ", "samples/chelsea.png", "pics\\chelsea.png"])
def test_attachment_names_resolve_to_the_staged_copy(value, attached):
    assert resolve_attachment(value, "image", attached) == attached["chelsea.png"]


def test_an_attachment_of_the_wrong_modality_is_refused(attached):
    with pytest.raises(ExpertError, match="clip.wav is audio, but image-classification's 'image' needs an image"):
        resolve_attachment("clip.wav", "image", attached, key="image", task="image-classification")


def test_an_output_from_outside_the_run_folder_is_not_passed_on(attached, tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"\x89PNG")
    results = {0: ExpertResult(files=[outside])}
    task = Task(1, "image-classification", [0], {"image": "<resource>-0"})
    with pytest.raises(ExpertError, match="outside this run's folder"):
        resolve_args(task, TASK_TYPES["image-classification"], results, attached, run_dir=tmp_path / "run")


def test_an_output_of_the_wrong_modality_is_not_passed_on(attached, tmp_path):
    wav = tmp_path / "run" / "0-speech.wav"
    wav.write_bytes(b"RIFF")
    task = Task(1, "image-classification", [0], {"image": "<resource>-0"})
    with pytest.raises(ExpertError, match=r"task 0 produced audio \(0-speech.wav\), not an image"):
        resolve_args(task, TASK_TYPES["image-classification"], {0: ExpertResult(files=[wav])}, attached,
                     run_dir=tmp_path / "run")


# -- outputs stay in the run folder ---------------------------------------------------------------
@pytest.mark.parametrize("stem", ["../../etc/passwd", "/abs/path", "..", "a/../../b", "\\..\\..\\x",
                                  "∕..∕..∕x", "x\x00y", "~", "." * 50, "", "C:\\x", "ﾠ/../"])
def test_a_crafted_stem_cannot_escape_the_run_folder(stem, tmp_path):
    ctx = ExpertContext(tmp_path / "run", task_id=3)
    path = ctx.output_path(stem, ".png")
    assert path.parent == tmp_path / "run" and path.name.startswith("3-")
    assert path.resolve().parent == (tmp_path / "run").resolve()
    assert path in ctx.written


@pytest.mark.parametrize("suffix", ["/../../x", ".png/../../x", "", "png", ".p/g", ". ", ".\x00"])
def test_a_crafted_suffix_is_refused(suffix, tmp_path):
    with pytest.raises(ValueError, match="is not a file extension"):
        ExpertContext(tmp_path / "run", task_id=0).output_path("x", suffix)


# -- through the engine --------------------------------------------------------------------------------
class Looker(Expert):
    model_id = "test/looker"
    tasks = ("image-classification",)

    def run(self, task, args, ctx):
        return ExpertResult(text=f"saw {args['image'].name} in {args['image'].parent.name}")


def test_escaping_arguments_fail_their_tasks_and_the_good_one_runs(settings):
    png = Path(__file__).resolve().parents[1] / "samples" / "chelsea.png"
    bad = ["/etc/passwd", "../../x.png", "~/.ssh/id_rsa", "file:///etc/passwd", "http://example.org/a.png"]
    plan = [{"task": "image-classification", "id": i, "dep": [-1], "args": {"image": v}}
            for i, v in enumerate(bad + ["chelsea.png"])]
    controller = ScriptedController([json.dumps(plan), "Done."])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([Looker()]),
                    planner=scripted_planner(controller))
    events = list(engine.run("look", [png]))
    failed = {e.task_id: e.error for e in events if isinstance(e, ev.TaskFailed)}
    assert sorted(failed) == list(range(len(bad)))
    assert "offline mode is on" in failed[4]
    [finished] = [e for e in events if isinstance(e, ev.TaskFinished)]
    assert finished.text == "saw chelsea.png in inputs"  # the staged copy, not the original
    answer = events[-1].text
    assert "/etc/passwd" in answer and "offline mode is on" in answer
