"""The mediapipe worker: runs under the isolated ``.venv-mediapipe`` Python, not hgpt's.

It imports nothing from hgpt (that environment has numpy<2 and mediapipe only).
Protocol: one JSON object per line on stdin —
``{"op": "pose" | "faces" | "people", "image": path, "output": path}`` — and one JSON
line back on the original stdout: ``{"ok": true, "data": {...}}`` or
``{"ok": false, "error": "..."}``. Anything else that writes to stdout (native
libraries do) is sent to stderr instead, so the protocol stream stays clean. The
graphs are built on first use and kept for the next request; end of input ends the
process.

* ``pose``: the 33 BlazePose landmarks (``pose_landmark_full``, bundled) drawn as a
  coloured skeleton on black, the control image an OpenPose ControlNet expects;
* ``faces``: BlazeFace full-range detection, boxes drawn on a copy of the image;
* ``people``: selfie segmentation, the person mask tinted over the image; the mask
  itself is written beside it.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

_graphs: dict = {}


def _graph(op: str):
    if op not in _graphs:
        import mediapipe as mp

        solutions = mp.solutions
        _graphs[op] = {
            "pose": lambda: solutions.pose.Pose(static_image_mode=True, model_complexity=1),
            "faces": lambda: solutions.face_detection.FaceDetection(model_selection=1,
                                                                    min_detection_confidence=0.5),
            "people": lambda: solutions.selfie_segmentation.SelfieSegmentation(model_selection=0),
        }[op]()
    return _graphs[op]


def pose(img: np.ndarray, output: str) -> dict:
    import mediapipe as mp

    found = _graph("pose").process(img).pose_landmarks
    if found is None:
        raise ValueError("no person was found in the image; openpose needs a photo showing a person")
    canvas = np.zeros_like(img)
    mp.solutions.drawing_utils.draw_landmarks(
        canvas, found, mp.solutions.pose.POSE_CONNECTIONS,
        landmark_drawing_spec=mp.solutions.drawing_styles.get_default_pose_landmarks_style())
    Image.fromarray(canvas).save(output)
    names = [lm.name.lower() for lm in mp.solutions.pose.PoseLandmark]
    points = [{"name": n, "x": round(p.x, 4), "y": round(p.y, 4), "visibility": round(p.visibility, 3)}
              for n, p in zip(names, found.landmark)]
    return {"people": 1, "landmarks": points, "files": [output]}


def faces(img: np.ndarray, output: str) -> dict:
    h, w = img.shape[:2]
    found = _graph("faces").process(img).detections or []
    picture = Image.fromarray(img)
    draw = ImageDraw.Draw(picture)
    objects = []
    for det in found:
        box = det.location_data.relative_bounding_box
        x0, y0 = max(0, round(box.xmin * w)), max(0, round(box.ymin * h))
        x1, y1 = min(w, round((box.xmin + box.width) * w)), min(h, round((box.ymin + box.height) * h))
        score = float(det.score[0])
        draw.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=max(2, w // 200))
        draw.text((x0 + 3, max(0, y0 - 12)), f"face {score:.0%}", fill=(255, 40, 40))
        objects.append({"label": "face", "score": round(score, 4), "box": [x0, y0, x1, y1]})
    picture.save(output)
    return {"objects": objects, "size": [w, h], "files": [output]}


def people(img: np.ndarray, output: str) -> dict:
    mask = _graph("people").process(img).segmentation_mask > 0.5
    tint = np.array([40, 220, 90], dtype=np.float32)
    overlay = img.astype(np.float32)
    overlay[mask] = overlay[mask] * 0.45 + tint * 0.55
    Image.fromarray(overlay.clip(0, 255).astype(np.uint8)).save(output)
    root, ext = os.path.splitext(output)
    mask_path = f"{root}-mask{ext}"
    Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(mask_path)
    return {"person_fraction": round(float(mask.mean()), 4), "files": [output, mask_path]}


OPS = {"pose": pose, "faces": faces, "people": people}


def handle(request: dict) -> dict:
    op = request.get("op")
    if op not in OPS:
        raise ValueError(f"unknown op {op!r}; known: {', '.join(OPS)}")
    with Image.open(request["image"]) as picture:
        img = np.ascontiguousarray(np.asarray(picture.convert("RGB")))
    return OPS[op](img, request["output"])


def main() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # native libraries' prints go to the log, not into the replies
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {"ok": True, "data": handle(json.loads(line))}
        except Exception as exc:  # reported to the caller, which raises ExpertError
            reply = {"ok": False, "error": str(exc) or type(exc).__name__}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
