"""Vision task runners: images in (loaded safely), text or a PNG out.

Images are read through ``engine.experts.media.load_image`` (pixel cap, full decode,
RGB). Every picture a runner makes — boxes, a mask overlay with its legend, a depth
map, an upscaled image — is written as PNG through ``ctx.output_path`` into the run
folder, atomically.

Document question answering needs words with their positions for LayoutLM-style
models; those come from the shipped RapidOCR (ONNX, no download), split into words
whose boxes are shares of the line's box and normalised to the 0-1000 grid LayoutLM
reads. Donut-style models (an image encoder with a text decoder) read the page
themselves and get no OCR.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ...errors import ExpertError, MissingDependencyError
from ..base import ExpertContext, ExpertResult
from ..media import load_image, save_image
from . import draw
from .load import torch_pipeline
from .runners import runner
from .text import text_arg


def image_arg(args: dict, task: str):
    if not args.get("image"):
        raise ExpertError(f"{task} needs an image; attach one and ask again")
    return load_image(args["image"])


def _save(img, ctx: ExpertContext, stem: str) -> Path:
    return save_image(img, ctx.output_path(stem, ".png"))


@runner("image-classification", pipeline="image-classification", onnx="ORTModelForImageClassification")
def image_classification(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    ranked = pipe(image_arg(args, "image-classification"), top_k=int(opts.get("top_k", 5)))
    ranked = [{"label": r["label"], "score": float(r["score"])} for r in ranked]
    return ExpertResult(text=f"{ranked[0]['label']} ({ranked[0]['score']:.2f})", data={"labels": ranked})


@runner("object-detection", pipeline="object-detection")
def object_detection(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    img = image_arg(args, "object-detection")
    found = pipe(img, threshold=float(opts.get("threshold", 0.5)))
    found = [{"label": d["label"], "score": float(d["score"]), "box": {k: int(v) for k, v in d["box"].items()}}
             for d in found][: int(opts.get("max_boxes", 100))]
    path = _save(draw.draw_boxes(img, found), ctx, "detections")
    listed = ", ".join(f"{d['label']} ({d['score']:.2f})" for d in found)
    text = f"{len(found)} objects: {listed}" if found else "no objects found"
    return ExpertResult(text=text, files=[path], data={"detections": found, "boxes_drawn": len(found)})


@runner("image-segmentation", pipeline="image-segmentation")
def image_segmentation(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    import numpy as np

    img = image_arg(args, "image-segmentation")
    segments = pipe(img)
    path = _save(draw.overlay_masks(img, segments), ctx, "segments")
    labels = list(dict.fromkeys(s["label"] for s in segments))
    found = []  # each segment with its own mask file (white inside), so a view can draw and toggle it
    for seg in segments:
        mask = seg["mask"].convert("L")
        if mask.size != img.size:
            mask = mask.resize(img.size)
        entry = {"label": seg["label"], "area": round(float((np.asarray(mask) > 127).mean()), 4),
                 "mask": str(save_image(mask, ctx.output_path("segments-mask", ".png")))}
        if seg.get("score") is not None:
            entry["score"] = round(float(seg["score"]), 4)
        found.append(entry)
    return ExpertResult(text="segments: " + (", ".join(labels) or "none"), files=[path],
                        data={"segments": found})


@runner("depth-estimation", pipeline="depth-estimation")
def depth_estimation(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    img = image_arg(args, "depth-estimation")
    out = pipe(img)
    depth = out["predicted_depth"]
    depth = depth.float().cpu().numpy() if hasattr(depth, "cpu") else depth
    path = _save(draw.depth_image(depth, img.size), ctx, "depth")
    return ExpertResult(text="depth map (brighter is nearer)", files=[path])


@runner("image-to-text", pipeline="image-to-text")
def image_to_text(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    out = pipe(image_arg(args, "image-to-text"), max_new_tokens=int(opts.get("max_new_tokens", 40)))
    return ExpertResult(text=out[0]["generated_text"].strip())


@runner("visual-question-answering", pipeline="visual-question-answering")
def visual_question_answering(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    img = image_arg(args, "visual-question-answering")
    out = pipe(image=img, question=text_arg(args, task="visual-question-answering"), top_k=3)
    ranked = [{"answer": o["answer"], "score": float(o["score"])} for o in out]
    return ExpertResult(text=ranked[0]["answer"], data={"answers": ranked})


def load_document_qa(folder: Path, opts: dict):
    """The document-QA pipeline, plus whether it needs OCR words (LayoutLM) or reads pixels (Donut)."""
    from .local import read_json

    config = read_json(folder / "config.json")
    needs_ocr = config.get("model_type") != "vision-encoder-decoder"
    if needs_ocr:
        ocr_engine()  # fail now, with the fix, rather than on the first question
    pipe = torch_pipeline("document-question-answering", folder)
    if not needs_ocr:  # Donut generates its answer; the call takes no generation arguments
        pipe.generation_config.max_new_tokens = int(opts.get("max_new_tokens", 64))
    return pipe, needs_ocr


@functools.lru_cache(maxsize=1)
def ocr_engine():
    """RapidOCR's detector and recogniser, loaded once per process."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        raise MissingDependencyError("rapidocr_onnxruntime", "experts") from None
    return RapidOCR()


def ocr_words(img) -> list[tuple[str, list[int]]]:
    """Words on the page with boxes on LayoutLM's 0-1000 grid."""
    import numpy as np

    lines, _ = ocr_engine()(np.asarray(img))
    w, h = img.size
    words: list[tuple[str, list[int]]] = []
    for points, text, _score in lines or []:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        parts = text.split()
        total = sum(len(p) for p in parts) or 1
        left = x0
        for part in parts:
            right = left + (x1 - x0) * len(part) / total
            box = [int(1000 * left / w), int(1000 * y0 / h), int(1000 * right / w), int(1000 * y1 / h)]
            words.append((part, [min(1000, max(0, v)) for v in box]))
            left = right
    return words


@runner("document-question-answering", load=load_document_qa)
def document_question_answering(loaded, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    pipe, needs_ocr = loaded
    img = image_arg(args, "document-question-answering")
    question = text_arg(args, task="document-question-answering")
    extra = {}
    if needs_ocr:
        extra["word_boxes"] = ocr_words(img)
        if not extra["word_boxes"]:
            return ExpertResult(text="no text could be read in the document",
                                data={"words": 0, "ocr": "rapidocr"})
    out = pipe(image=img, question=question, top_k=1, **extra)
    best = out[0] if isinstance(out, list) else out
    data = {"score": float(best.get("score") or 0.0)}
    if needs_ocr:
        data |= {"words": len(extra["word_boxes"]), "ocr": "rapidocr"}
    answer = str(best.get("answer") or "").strip()
    return ExpertResult(text=answer or "no answer found in the document", data=data | {"answered": bool(answer)})


@runner("image-to-image", pipeline="image-to-image")
def image_to_image(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    img = image_arg(args, "image-to-image")
    out = pipe(img)
    out = out[0] if isinstance(out, list) else out
    path = _save(out, ctx, "image")
    return ExpertResult(text=f"image {img.size[0]}x{img.size[1]} -> {out.size[0]}x{out.size[1]}",
                        files=[path], data={"size": list(out.size)})
