"""What a detection or segmentation result looks like as data a view can draw.

Experts also write a picture with the boxes or masks drawn in, but a view that draws
them itself can toggle them, show each label and score on hover and say them to a
screen reader. ``overlay_for`` reads a finished task's arguments, data and files into
an ``Overlay``: the original picture (the task's ``image`` argument), its boxes
(``detections`` with ``xmin``… boxes from transformers, ``objects`` with
``[x0, y0, x1, y1]`` from MediaPipe) and its masks (``segments`` with a ``mask`` PNG
each, or MediaPipe's person mask). Mask files are only taken from the folder the
task wrote its outputs in. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Box:
    label: str
    score: float | None
    x0: float
    y0: float
    x1: float
    y1: float

    def words(self) -> str:
        return self.label + (f" ({self.score:.0%})" if self.score is not None else "")


@dataclass(frozen=True)
class Mask:
    label: str
    path: str  # a greyscale PNG, white inside
    area: float | None = None  # share of the picture
    score: float | None = None

    def words(self) -> str:
        parts = [f"{self.score:.0%}" if self.score is not None else "",
                 f"{self.area:.0%} of the picture" if self.area is not None else ""]
        extra = ", ".join(p for p in parts if p)
        return self.label + (f" ({extra})" if extra else "")


@dataclass(frozen=True)
class Overlay:
    image: str  # the original picture the expert looked at
    drawn: str = ""  # the expert's own picture with everything drawn in
    boxes: list[Box] = field(default_factory=list)
    masks: list[Mask] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence for a screen reader: what is drawn where."""
        parts = [f"{len(self.boxes)} box{'es' * (len(self.boxes) != 1)}: "
                 + "; ".join(b.words() for b in self.boxes)] if self.boxes else []
        if self.masks:
            parts.append(f"{len(self.masks)} mask{'s' * (len(self.masks) != 1)}: "
                         + "; ".join(m.words() for m in self.masks))
        return ". ".join(parts) or "nothing found"


def _num(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _box(item: dict) -> Box | None:
    box = item.get("box")
    if isinstance(box, dict):
        coords = [_num(box.get(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
    elif isinstance(box, (list, tuple)) and len(box) == 4:
        coords = [_num(v) for v in box]
    else:
        return None
    if any(c is None for c in coords):
        return None
    return Box(str(item.get("label", "")), _num(item.get("score")), *coords)


def overlay_for(task: str, args: dict, data: dict, files: list) -> Overlay | None:
    """The overlay of a finished object-detection or image-segmentation task, or None
    when there is nothing to draw (another task, no original picture, no boxes or masks)."""
    if task not in ("object-detection", "image-segmentation"):
        return None
    image = str((args or {}).get("image") or "")
    if not image or not Path(image).is_file():
        return None
    files = [str(f) for f in files or ()]
    folder = Path(files[0]).parent if files else None
    data = data or {}
    boxes = [b for b in map(_box, list(data.get("detections") or []) + list(data.get("objects") or [])) if b]
    masks = []
    for seg in data.get("segments") or ():
        path = seg.get("mask") if isinstance(seg, dict) else None
        if path and folder is not None and Path(path).parent == folder and Path(path).is_file():
            masks.append(Mask(str(seg.get("label", "")), str(path), _num(seg.get("area")), _num(seg.get("score"))))
    person = next((f for f in files[1:] if f.endswith("-mask.png")), None)
    if person and "person_fraction" in data and Path(person).is_file():
        masks.append(Mask("person", person, _num(data.get("person_fraction"))))
    if not boxes and not masks and task == "object-detection" and "detections" not in data and "objects" not in data:
        return None
    if not boxes and not masks and task == "image-segmentation":
        return None
    return Overlay(image, files[0] if files else "", boxes, masks)
