"""MediaPipe experts for real, through the worker in the isolated venv: the
astronaut photo has a pose, a face and a person; chelsea (a cat) has no person.
Skipped with the setup command when ``.venv-mediapipe`` has not been created."""

from __future__ import annotations

import pytest

from _experts import loaded
from engine.errors import ExpertError
from engine.experts.base import ExpertContext

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mp_experts():
    from engine.experts import mediapipe_vision as mv

    return {cls.tasks[0]: loaded(cls) for cls in mv.EXPERTS}


@pytest.fixture
def ctx(tmp_path):
    return ExpertContext(tmp_path / "run", task_id=2)


def run(experts, task, image, ctx):
    return experts[task](task, {"image": image}, ctx)


def test_pose_draws_a_skeleton_on_black(mp_experts, images, ctx):
    import numpy as np
    from PIL import Image

    result = run(mp_experts, "openpose-control", images["astronaut"], ctx)
    out = result.files[0]
    assert out.parent == ctx.run_dir and out.suffix == ".png"
    pixels = np.asarray(Image.open(out).convert("RGB"))
    lit = (pixels.sum(axis=2) > 0).mean()
    assert pixels.shape[:2] == (512, 512) and 0.001 < lit < 0.2  # lines on black
    nose = result.data["landmarks"][0]
    assert nose["name"] == "nose" and nose["visibility"] > 0.9 and 0.3 < nose["x"] < 0.6


def test_pose_without_a_person_fails_clearly(mp_experts, images, ctx):
    with pytest.raises(ExpertError, match="no person was found"):
        run(mp_experts, "openpose-control", images["chelsea"], ctx)


def test_face_detection_boxes_the_astronauts_face(mp_experts, images, ctx):
    result = run(mp_experts, "object-detection", images["astronaut"], ctx)
    faces = result.data["objects"]
    assert len(faces) == 1 and result.text.startswith("1 face (")
    assert result.text.endswith(" top centre)"), result.text  # where: the astronaut's face is high, in the middle
    x0, y0, x1, y1 = faces[0]["box"]
    assert 150 < x0 < x1 < 300 and 50 < y0 < y1 < 200  # the face, upper middle of the photo
    assert result.files[0].exists()


def test_people_segmentation_masks_the_person(mp_experts, images, ctx):
    result = run(mp_experts, "image-segmentation", images["astronaut"], ctx)
    assert 0.3 < result.data["person_fraction"] < 0.8
    overlay, mask = result.files
    assert mask.name.endswith("-mask.png") and overlay.exists()


def test_bad_image_is_refused_before_the_worker(mp_experts, tmp_path, ctx):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    with pytest.raises(ExpertError, match="not a readable image"):
        run(mp_experts, "object-detection", bad, ctx)


def test_worker_survives_a_bad_request_and_stops_on_unload(mp_experts, images, ctx):
    from engine.experts import mediapipe_vision as mv

    worker = mv._shared["worker"]
    with pytest.raises(ExpertError, match="unknown op"):
        worker.request({"op": "nope", "image": "", "output": ""})
    assert worker.request({"op": "faces", "image": str(images["astronaut"]),
                           "output": str(ctx.output_path("again", ".png"))})["objects"]
    for expert in mp_experts.values():
        expert.unload()
    assert worker.proc.poll() is not None and mv._shared["worker"] is None
    again = run(mp_experts, "object-detection", images["astronaut"], ctx)  # loads a new worker
    assert again.data["objects"]


def test_missing_env_names_the_command(monkeypatch, tmp_path):
    from engine.experts.mediapipe_vision import MediapipeFaces

    monkeypatch.setenv("HGPT_MEDIAPIPE_VENV", str(tmp_path / "nowhere"))
    message = MediapipeFaces().missing()
    assert "python -m engine.experts.mediapipe_env" in message and "nowhere" in message


def test_half_made_env_is_not_taken_for_ready(tmp_path):
    from engine.experts import mediapipe_env as env

    folder = tmp_path / "venv"
    env.env_python(folder).parent.mkdir(parents=True)
    env.env_python(folder).write_text("")
    assert not env.is_ready(folder)
    (folder / env.STAMP).write_text("mediapipe==0.10.21\n")
    assert env.is_ready(folder)


def test_a_box_is_placed_in_thirds_of_the_picture():
    from engine.experts.mediapipe_vision import where

    assert where([200, 90, 250, 170], (512, 512)) == "top centre"
    assert where([0, 400, 60, 500], (512, 512)) == "bottom left"
    assert where([220, 220, 290, 290], (512, 512)) == "centre"
