"""Reading the text in an image (OCR) with RapidOCR's PP-OCRv4 ONNX models.

``rapidocr-onnxruntime`` ships its three models in the wheel — text detection,
orientation classification and line recognition (PaddleOCR's PP-OCRv4 exported to
ONNX) — and runs them with onnxruntime, one thread each. It serves ``image-to-text``
as OCR; a captioning model serves the other meaning of that task and the selector
picks by the request.

RapidOCR returns boxes roughly top to bottom. ``reading_order`` rebuilds lines: boxes
whose vertical centres fall inside one another's extent are one line, read left to
right; lines are read top to bottom. The image goes through ``media.load_image``
first, so a broken or oversized file fails with one clear line.
"""

from __future__ import annotations

from typing import Any

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult, Scope
from .media import load_image
from .packs import RUNTIMES, Pin, missing_packages, pack_dir, size_mb

PACK = "rapidocr_onnxruntime"
PIN = Pin("rapidocr-pp-ocrv4")  # its models.lock entry: the source and the pip requirement


def reading_order(items: list[tuple[list, str, float]]) -> list[list[tuple[list, str, float]]]:
    """Group (box, text, score) items into lines, each sorted left to right."""
    def span(box):
        ys = [p[1] for p in box]
        return min(ys), max(ys)

    lines: list[list] = []
    for item in sorted(items, key=lambda it: sum(span(it[0])) / 2):
        top, bottom = span(item[0])
        centre = (top + bottom) / 2
        if lines:
            l_top, l_bottom = span(lines[-1][-1][0])
            if l_top <= centre <= l_bottom or top <= (l_top + l_bottom) / 2 <= bottom:
                lines[-1].append(item)
                continue
        lines.append([item])
    return [sorted(line, key=lambda it: min(p[0] for p in it[0])) for line in lines]


class RapidOcr(Expert):
    model_id = "RapidAI/RapidOCR"
    tasks = ("image-to-text",)
    runtime = "onnxruntime"
    licence = "Apache-2.0"
    description = ("RapidOCR (PaddleOCR PP-OCRv4 detection and recognition in ONNX): reads the "
                   "printed text in a photo, screenshot or scanned page, in reading order.")
    downloads = 0  # the Hub card's figure is not known offline
    likes = 0
    source = PIN
    scopes = {"image-to-text": Scope("read the printed or written text in an image: a sign, menu, page or screenshot",
                                     ("describe what a picture shows", "say what is happening in a photo",
                                      "caption a photo in a sentence"),
                                     also=("what does the text on this say", "what word is written on this page",
                                           "read me the title of this document"))}

    def missing(self) -> str | None:
        return missing_packages({PACK: PIN, "onnxruntime": RUNTIMES["onnxruntime"]})

    def footprint_mb(self) -> float:
        folder = pack_dir(PACK)
        return size_mb(folder / "models" if folder else None) * 2  # weights plus feature maps

    def setup(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        self.engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

    def teardown(self) -> None:
        self.engine = None

    def read(self, img) -> list[dict]:
        """One entry per line: its text, mean confidence and bounding box (x0, y0, x1, y1)."""
        found, _ = self.engine(img)
        lines = []
        for line in reading_order(found or []):
            xs = [p[0] for it in line for p in it[0]]
            ys = [p[1] for it in line for p in it[0]]
            lines.append({"text": " ".join(it[1] for it in line),
                          "score": round(sum(it[2] for it in line) / len(line), 3),
                          "box": [round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))]})
        return lines

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if "image" not in args:
            raise ExpertError("OCR needs an image; attach a PNG or JPEG with text in it")
        lines = self.read(load_image(args["image"]))
        text = "\n".join(line["text"] for line in lines)
        return ExpertResult(text=text or "(no text found in the image)", data={"lines": lines})


EXPERTS = [RapidOcr]
