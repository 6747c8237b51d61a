"""ControlNet preprocessors: the ``<kind>-control`` task types, turning a photo into a map.

A ControlNet is guided by a map of one kind (edges, depth, a segmentation …) of the
size of the picture to make. What can be made here, offline:

* ``canny`` — Canny edges in numpy (Gaussian blur, Sobel gradients, non-maximum
  suppression, double threshold, hysteresis): white edges on black, as
  lllyasviel/sd-controlnet-canny was trained on. Always available.
* ``depth`` and ``normal`` — from a depth-estimation model found in the Hugging
  Face cache (DPT, as the ControlNet authors used): the depth map itself, or
  surface normals computed from its gradients (the ControlNet "normal" recipe).
* ``seg`` — from an image-segmentation model in the cache, painted with the
  ADE20K palette the seg ControlNet expects (other labels get palette colours by
  their order).

HED soft edges, M-LSD lines, OpenPose skeletons and scribbles need annotator
networks that only ship through the Hub (lllyasviel/Annotators, via controlnet_aux);
``UNAVAILABLE`` says so in words, and a ready-made map can always be attached to a
``<kind>-text-to-image`` task instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult
from .media import load_image, save_image

ANNOTATOR_HELP = ("needs the {what} annotator network, which only ships through the Hugging Face Hub "
                  "(lllyasviel/Annotators with controlnet_aux) and is not available offline; attach a ready "
                  "{kind} map to {kind}-text-to-image instead, or use canny-control")
UNAVAILABLE = {
    "hed": ANNOTATOR_HELP.format(what="HED soft-edge", kind="hed"),
    "mlsd": ANNOTATOR_HELP.format(what="M-LSD line", kind="mlsd"),
    "openpose": ANNOTATOR_HELP.format(what="OpenPose", kind="openpose"),
    "scribble": ANNOTATOR_HELP.format(what="HED (scribble)", kind="scribble"),
}
# The first ADE20K colours (the seg ControlNet's palette), in label order.
ADE_PALETTE = [(120, 120, 120), (180, 120, 120), (6, 230, 230), (80, 50, 50), (4, 200, 3), (120, 120, 80),
               (140, 140, 140), (204, 5, 255), (230, 230, 230), (4, 250, 7), (224, 5, 255), (235, 255, 7),
               (150, 5, 61), (120, 120, 70), (8, 255, 51), (255, 6, 82), (143, 255, 140), (204, 255, 4),
               (255, 51, 7), (204, 70, 3), (0, 102, 200), (61, 230, 250), (255, 6, 51), (11, 102, 255)]


# -- Canny ------------------------------------------------------------------------------
def _gaussian(img: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-(x ** 2) / (2 * sigma ** 2))
    k /= k.sum()
    pad = np.pad(img, radius, mode="reflect")
    rows = sum(k[i] * pad[:, i:i + img.shape[1]] for i in range(len(k)))
    return sum(k[i] * rows[i:i + img.shape[0], :] for i in range(len(k)))


def _sobel(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.pad(img, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return gx, gy


def _thin(mag: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Non-maximum suppression along the gradient, quantised to four directions."""
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    p = np.pad(mag, 1)
    h, w = mag.shape
    shifted = {0: ((1, 0), (1, 2)), 45: ((0, 2), (2, 0)), 90: ((0, 1), (2, 1)), 135: ((0, 0), (2, 2))}
    keep = np.zeros_like(mag, dtype=bool)
    for direction, ((r1, c1), (r2, c2)) in shifted.items():
        sector = np.abs(((angle - direction + 90) % 180) - 90) <= 22.5
        a, b = p[r1:r1 + h, c1:c1 + w], p[r2:r2 + h, c2:c2 + w]
        keep |= sector & (mag >= a) & (mag >= b)
    return np.where(keep, mag, 0.0)


def _hysteresis(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    edges = strong.copy()
    while True:
        p = np.pad(edges, 1)
        grown = np.zeros_like(edges)
        for dr in range(3):
            for dc in range(3):
                grown |= p[dr:dr + edges.shape[0], dc:dc + edges.shape[1]]
        grown &= weak
        if (grown == edges).all():
            return edges
        edges = grown


def canny(img, low: int = 100, high: int = 200, sigma: float = 1.0) -> np.ndarray:
    """Canny edges of a PIL image as a uint8 array (255 on edges), thresholds as in OpenCV."""
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    gx, gy = _sobel(_gaussian(grey, sigma))
    thin = _thin(np.hypot(gx, gy), gx, gy)
    edges = _hysteresis(thin >= high, thin >= low)
    return (edges * 255).astype(np.uint8)


# -- maps from depth and segmentation models --------------------------------------------
def normals_from_depth(depth: np.ndarray, strength: float = 0.4) -> np.ndarray:
    """RGB surface normals (uint8) from a relative depth map, as ControlNet's normal recipe."""
    d = depth.astype(np.float32)
    d = (d - d.min()) / (np.ptp(d) + 1e-6)
    gx, gy = _sobel(d)
    z = np.full_like(d, strength)
    n = np.stack([-gx, -gy, z], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-6
    return ((n * 0.5 + 0.5) * 255).round().clip(0, 255).astype(np.uint8)


def seg_map(segments: list[dict], size: tuple[int, int]) -> np.ndarray:
    out = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    for i, seg in enumerate(segments):
        mask = np.asarray(seg["mask"].convert("L").resize(size)) > 127
        out[mask] = ADE_PALETTE[i % len(ADE_PALETTE)]
    return out


class ControlMapExpert(Expert):
    """One ``<kind>-control`` preprocessor; depth, normal and seg wrap a cached model's expert."""

    runtime = "numpy"
    licence = "Apache-2.0"

    def __init__(self, kind: str, model: Expert | None = None, options: dict[str, Any] | None = None):
        super().__init__()
        self.kind, self.model = kind, model
        self.model_id = f"hgpt/{kind}-control"
        self.tasks = (f"{kind}-control",)
        self.options = dict(options or {})
        based = f" from {model.model_id}" if model else " (numpy, no model)"
        self.description = f"Makes a {kind} control map for ControlNet{based}."
        self.source = model.source if model else "hgpt"

    def missing(self) -> str | None:
        if self.kind in UNAVAILABLE:
            return f"{self.kind}-control {UNAVAILABLE[self.kind]}"
        if self.kind != "canny" and self.model is None:
            need = "image-segmentation" if self.kind == "seg" else "depth-estimation"
            return f"{self.kind}-control needs a {need} model; get one with: hgpt models pull NAME"
        return self.model.missing() if self.model else None

    def footprint_mb(self) -> float:
        return self.model.footprint_mb() if self.model else 0.0

    def run(self, task: str, args: dict, ctx: ExpertContext) -> ExpertResult:
        from PIL import Image

        if not args.get("image"):
            raise ExpertError(f"{task} needs an image; attach one and ask again")
        img = load_image(args["image"])
        if self.kind == "canny":
            arr = canny(img, int(self.options.get("low", 100)), int(self.options.get("high", 200)))
            out = Image.fromarray(np.stack([arr] * 3, axis=-1))
        else:
            out = Image.fromarray(self._from_model(img))
        path = save_image(out, ctx.output_path(f"{self.kind}-control", ".png"))
        return ExpertResult(text=f"{self.kind} control map", files=[path], data={"kind": self.kind})

    def _from_model(self, img) -> np.ndarray:
        self.model.ensure_loaded()
        if self.kind == "seg":
            return seg_map(self.model.pipeline_for("image-segmentation")(img), img.size)
        depth = self.model.pipeline_for("depth-estimation")(img)["predicted_depth"]
        depth = _resized(np.asarray(depth.float().cpu().numpy() if hasattr(depth, "cpu") else depth), img.size)
        if self.kind == "normal":
            return normals_from_depth(depth)
        grey = ((depth - depth.min()) / (np.ptp(depth) + 1e-6) * 255).astype(np.uint8)
        return np.stack([grey] * 3, axis=-1)


def _resized(depth: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    img = Image.fromarray(depth.squeeze().astype(np.float32))
    return np.asarray(img if img.size == tuple(size) else img.resize(size, Image.Resampling.BICUBIC))


def control_experts(models: list[Expert]) -> list[ControlMapExpert]:
    """Canny always; depth and normal over the first cached depth model; seg over a segmenter."""
    out = [ControlMapExpert("canny")]
    depth = next((m for m in models if "depth-estimation" in m.tasks), None)
    seg = next((m for m in models if "image-segmentation" in m.tasks), None)
    if depth is not None:
        out += [ControlMapExpert("depth", depth), ControlMapExpert("normal", depth)]
    if seg is not None:
        out.append(ControlMapExpert("seg", seg))
    return out


def register(registry) -> list[ControlMapExpert]:
    """Register the control-map makers; run after ``engine.experts.hf`` so its models are known."""
    from .hf import TransformersExpert

    models = [e for e in registry if isinstance(e, TransformersExpert) and e.missing() is None]
    return [registry.register(e) for e in control_experts(models) if e.model_id not in registry]


EXPERTS: list = []  # found at registration: see register()
