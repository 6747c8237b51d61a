"""Pose, faces and people with Google MediaPipe, run in its own environment.

Three experts share one worker process (``mediapipe_env.Worker``): the first to load
starts it, the last to unload stops it. Each checks its input with
``media.load_image`` here — so a broken, empty or oversized file fails with one
clear line before the worker sees it — then sends the worker the path and the
output path from ``ctx.output_path``.

* ``openpose-control``: BlazePose (``pose_landmark_full``), a skeleton on black;
* ``object-detection``: BlazeFace full range, one box per face;
* ``image-segmentation``: selfie segmentation, people tinted over the image.

All models ship inside the mediapipe wheel (Apache-2.0); nothing is downloaded. They
are not Hugging Face repositories, so their ids name the bundled model file instead.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import ExpertError
from . import mediapipe_env as env
from .base import Expert, ExpertContext, ExpertResult, Scope
from .media import load_image
from .packs import size_mb

_shared = {"worker": None, "users": 0}
_shared_lock = threading.Lock()


def _acquire() -> env.Worker:
    with _shared_lock:
        if _shared["worker"] is None:
            _shared["worker"] = env.Worker()
        _shared["users"] += 1
        return _shared["worker"]


def _release() -> None:
    with _shared_lock:
        _shared["users"] -= 1
        if _shared["users"] <= 0 and _shared["worker"] is not None:
            _shared["worker"].close()
            _shared["worker"], _shared["users"] = None, 0


def _model_file(*parts: str) -> Path:
    lib = next(iter((env.env_dir() / "lib").glob("python3*/site-packages")), None)
    return lib.joinpath("mediapipe", "modules", *parts) if lib else Path("/nonexistent")


class _MediapipeExpert(Expert):
    runtime = "mediapipe"
    licence = "Apache-2.0"
    source = "pypi:" + env.PACKAGES[0]  # the pin ensure_env installs
    downloads = 0  # MediaPipe's models are not Hub repos
    likes = 0
    op = ""
    stem = ""
    model_files: tuple[tuple[str, ...], ...] = ()

    def missing(self) -> str | None:
        return env.missing_message()

    def footprint_mb(self) -> float:
        # The worker process (interpreter, mediapipe, OpenCV) plus the model itself.
        return 120.0 + size_mb(*(_model_file(*f) for f in self.model_files)) * 2

    def setup(self) -> None:
        self.worker = _acquire()

    def teardown(self) -> None:
        self.worker = None
        _release()

    def ask(self, args: dict[str, Any], ctx: ExpertContext) -> tuple[dict, list[Path]]:
        if "image" not in args:
            raise ExpertError(f"{self.tasks[0]} needs an image; attach a PNG or JPEG")
        load_image(args["image"])  # refuses broken, empty and oversized files here
        out = ctx.output_path(self.stem, ".png")
        data = self.worker.request({"op": self.op, "image": str(args["image"]), "output": str(out)})
        files = [Path(f) for f in data.pop("files", [])]
        return data, files


class MediapipePose(_MediapipeExpert):
    model_id = "mediapipe:pose_landmark_full"
    tasks = ("openpose-control",)
    description = ("MediaPipe BlazePose (full): finds one person's 33 body landmarks and draws "
                   "the skeleton on black, a pose control image for ControlNet.")
    op, stem = "pose", "pose"
    model_files = (("pose_detection", "pose_detection.tflite"), ("pose_landmark", "pose_landmark_full.tflite"))

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        data, files = self.ask(args, ctx)
        seen = sum(p["visibility"] > 0.5 for p in data["landmarks"])
        return ExpertResult(text=f"a person's pose ({seen} of 33 landmarks visible)", files=files, data=data)


class MediapipeFaces(_MediapipeExpert):
    model_id = "mediapipe:face_detection_full_range"
    tasks = ("object-detection",)
    description = ("MediaPipe BlazeFace (full range): finds faces in a photo, near or far, and "
                   "draws a box around each; detects faces only, no other objects.")
    op, stem = "faces", "faces"
    scopes = {"object-detection": Scope("find the faces of people in a photo",
                                        ("put boxes around cars, animals or other objects",
                                         "find and label the objects in a photo"))}
    model_files = (("face_detection", "face_detection_full_range_sparse.tflite"),)

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        data, files = self.ask(args, ctx)
        found = data["objects"]
        scores = ", ".join(f"{o['score']:.0%} {where(o['box'], data['size'])}" for o in found)
        text = f"{len(found)} face{'s' if len(found) != 1 else ''} ({scores})" if found else "no faces found"
        return ExpertResult(text=text, files=files, data=data)


def where(box, size) -> str:
    """Where a box lies in the picture, in thirds: "top centre", "middle left" … (the answer
    says where a face is from this, instead of making up coordinates)."""
    (x0, y0, x1, y1), (w, h) = box, size
    col = ("left", "centre", "right")[min(2, int(3 * (x0 + x1) / 2 / max(w, 1)))]
    row = ("top", "middle", "bottom")[min(2, int(3 * (y0 + y1) / 2 / max(h, 1)))]
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


class MediapipePeople(_MediapipeExpert):
    model_id = "mediapipe:selfie_segmentation"
    tasks = ("image-segmentation",)
    description = ("MediaPipe selfie segmentation: separates people from the background and "
                   "tints them over the image; people only, no other classes.")
    op, stem = "people", "people"
    scopes = {"image-segmentation": Scope("separate the people in a photo from the background",
                                          ("segment objects such as cars, animals, buildings or the sky",))}
    model_files = (("selfie_segmentation", "selfie_segmentation.tflite"),)

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        data, files = self.ask(args, ctx)
        share = data["person_fraction"]
        text = f"person: {share:.0%} of the image" if share > 0.01 else "no person found"
        return ExpertResult(text=text, files=files, data=data)


EXPERTS = [MediapipePose, MediapipeFaces, MediapipePeople]
