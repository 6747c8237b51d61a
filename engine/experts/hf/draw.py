"""Pictures of what vision models found: boxes, masks and depth maps.

Each function draws on a copy of the input and returns a PIL image of the input's
size, so a result can be laid over the original. Colours come from one fixed
palette, one per label (the same label gets the same colour across a run), and text
uses Pillow's built-in font scaled to the image, so nothing depends on installed
fonts.
"""

from __future__ import annotations

import numpy as np

PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
           (170, 110, 40), (128, 0, 0), (170, 255, 195), (128, 128, 0), (0, 0, 128), (128, 128, 128)]


def colour(label: str, labels: list[str]) -> tuple[int, int, int]:
    return PALETTE[labels.index(label) % len(PALETTE)]


def _font(img):
    from PIL import ImageFont

    size = max(10, min(img.size) // 30)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed size
        return ImageFont.load_default()


def draw_boxes(img, detections: list[dict]):
    """``detections``: [{"label", "score", "box": {xmin, ymin, xmax, ymax}}] -> a new image."""
    from PIL import ImageDraw

    out = img.convert("RGB").copy()
    draw, font = ImageDraw.Draw(out), _font(out)
    labels = list(dict.fromkeys(d["label"] for d in detections))
    width = max(2, min(out.size) // 150)
    for det in detections:
        box = det["box"]
        xy = (box["xmin"], box["ymin"], box["xmax"], box["ymax"])
        col = colour(det["label"], labels)
        draw.rectangle(xy, outline=col, width=width)
        caption = f"{det['label']} {det['score']:.2f}"
        left, top, right, bottom = draw.textbbox((xy[0], xy[1]), caption, font=font)
        y = max(0, xy[1] - (bottom - top) - 2)
        draw.rectangle((xy[0], y, xy[0] + right - left + 4, y + bottom - top + 2), fill=col)
        draw.text((xy[0] + 2, y), caption, fill=(0, 0, 0), font=font)
    return out


def overlay_masks(img, segments: list[dict], alpha: float = 0.5):
    """``segments``: [{"label", "mask" (PIL L, 255 = inside)}] -> colour overlay with a legend."""
    from PIL import Image, ImageDraw

    base = np.asarray(img.convert("RGB"), dtype=np.float32)
    tint = base.copy()
    labels = list(dict.fromkeys(s["label"] for s in segments))
    for seg in segments:
        mask = np.asarray(seg["mask"].convert("L").resize(img.size), dtype=np.float32)[..., None] / 255.0
        tint = tint * (1 - mask) + np.array(colour(seg["label"], labels), dtype=np.float32) * mask
    out = Image.fromarray((base * (1 - alpha) + tint * alpha).clip(0, 255).astype(np.uint8))
    _legend(ImageDraw.Draw(out), out, labels)
    return out


def _legend(draw, img, labels: list[str]) -> None:
    font = _font(img)
    pad = 4
    y = pad
    for label in labels:
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        h = bottom - top + 2
        draw.rectangle((pad, y, pad + h + right - left + 3 * pad, y + h + pad), fill=(255, 255, 255))
        draw.rectangle((pad * 2, y + 2, pad * 2 + h - 2, y + h), fill=colour(label, labels))
        draw.text((pad * 3 + h, y), label, fill=(0, 0, 0), font=font)
        y += h + pad + 1


def depth_image(depth, size: tuple[int, int]):
    """A depth array (any scale; larger = nearer, as DPT predicts) -> 8-bit grey image of ``size``."""
    from PIL import Image

    arr = np.asarray(depth, dtype=np.float32).squeeze()
    if arr.ndim != 2:
        raise ValueError(f"a depth map must be two-dimensional, got shape {arr.shape}")
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    scaled = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    img = Image.fromarray((np.nan_to_num(scaled) * 255).astype(np.uint8))  # 2-D uint8 is mode L
    return img if img.size == tuple(size) else img.resize(size, Image.Resampling.BICUBIC)
