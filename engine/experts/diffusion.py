"""Image and video generation with diffusers: text-to-image, image-to-image, text-to-video
and the ControlNet family (``<kind>-text-to-image``), from local files only.

``DiffusionExpert`` wraps one diffusers pipeline found in the Hugging Face cache or a
folder (``model_index.json``): a Stable Diffusion pipeline serves text-to-image and,
through ``AutoPipelineForImage2Image.from_pipe`` (the same weights, no second copy),
image-to-image; a text-to-video pipeline writes its frames as an animated GIF. A
ControlNet (a folder whose config names ``ControlNetModel``) is run on top of a
Stable Diffusion base, taken from the ControlNet card's ``base_model`` or the
``base`` option; its kind (canny, depth …) comes from its name or tags. The control
image is the task's image argument, usually the output of a ``<kind>-control`` task
(``engine.experts.control``).

Loading is local (``local_files_only=True``), no custom pipeline code is run, and
safetensors are used when the folder has them (diffusers loads a ``.bin`` with
``weights_only=True`` otherwise). diffusers is an optional extra: without it,
``missing()`` says ``pip install 'hgpt[diffusion]'``; without the model it says
``hgpt models pull NAME``. Generation is seeded (option ``seed``) and checks the run's
cancel token after every denoising step.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import threading
from pathlib import Path
from typing import Any, Sequence

from ..errors import Cancelled, ExpertError
from ..tasks import CONTROL_KINDS
from .base import Expert, ExpertContext, ExpertResult
from .media import load_image, save_image

INSTALL = "pip install 'hgpt[diffusion]'"
PACKAGES = ("torch", "diffusers", "transformers")
CONTROL_SUFFIX = "-text-to-image"
# Stable Diffusion 1.x bases a ControlNet for SD 1.5 runs on, most likely first.
SD15_BASES = ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5",
              "CompVis/stable-diffusion-v1-4")
KIND_ALIASES = {"softedge": "hed", "normalbae": "normal", "segmentation": "seg", "pose": "openpose"}
DEFAULT_PROMPT = "a high quality, detailed image"


def control_kind_of(task: str) -> str | None:
    kind = task[: -len(CONTROL_SUFFIX)] if task.endswith(CONTROL_SUFFIX) else None
    return kind if kind in CONTROL_KINDS else None


def pipeline_tasks(folder: Path, card: dict) -> tuple[str, ...]:
    """Task types a diffusers pipeline folder serves, from its class name and card."""
    from .hf.local import read_json

    cls = str(read_json(Path(folder) / "model_index.json").get("_class_name") or "")
    tag = str(card.get("pipeline_tag") or "")
    if "Video" in cls or tag == "text-to-video":
        return ("text-to-video",) if "Img2Vid" not in cls and "ImageToVideo" not in cls else ()
    if "ControlNet" in cls or "Inpaint" in cls:
        return ()
    if tag == "image-to-image" or any(k in cls for k in ("Img2Img", "Upscale", "InstructPix2Pix")):
        return ("image-to-image",)
    if tag in ("", "text-to-image") and cls.endswith("Pipeline"):
        return ("text-to-image", "image-to-image")
    return ()


def control_kind(repo_id: str, card: dict) -> str | None:
    """canny, depth … from a ControlNet's name (…-canny, control_v11p_sd15_canny) or tags."""
    words = repo_id.lower().replace("/", "_").replace("-", "_").split("_")
    words += [str(t).lower() for t in card.get("tags") or []]
    for word in words:
        kind = KIND_ALIASES.get(word, word)
        if kind in CONTROL_KINDS:
            return kind
    return None


def base_candidates(card: dict, given: str | None) -> list[str]:
    if given:
        return [given]
    base = card.get("base_model")
    named = [base] if isinstance(base, str) else [str(b) for b in base or []]
    return list(dict.fromkeys(named + list(SD15_BASES)))


class DiffusionExpert(Expert):
    runtime = "diffusers"

    def __init__(self, model_id: str, task: str | Sequence[str], revision: str | None = None,
                 path: str | Path | None = None, *, base: str | Path | None = None,
                 options: dict[str, Any] | None = None, description: str = "", licence: str = "",
                 card: dict | None = None):
        super().__init__()
        self.model_id = model_id
        self.tasks = (task,) if isinstance(task, str) else tuple(task)
        self.revision, self.path = revision, (Path(path) if path else None)
        self.kind = next((k for k in map(control_kind_of, self.tasks) if k), None)
        self.bases = base_candidates(card or {}, str(base) if base else None) if self.kind else []
        self.options = dict(options or {})
        self.description = description or f"{model_id} ({', '.join(self.tasks)}) through diffusers"
        self.licence = licence
        self.source = f"dir:{self.path}" if self.path else f"hf-cache:{model_id}@{revision or 'main'}"
        self._pipe: Any = None
        self._img2img: Any = None
        self._img2img_lock = threading.Lock()

    # -- cheap checks ---------------------------------------------------------------
    def missing(self) -> str | None:
        absent = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
        if absent:
            return f"{' and '.join(absent)} not installed. Install with: {INSTALL}"
        try:
            self._model_folder()
            if self.kind:
                self._base_folder()
        except OSError as exc:  # ModelFileError says how to pull what is missing
            return str(exc)
        return None

    def _model_folder(self) -> Path:
        from .hf.local import model_folder

        return model_folder(self.model_id, self.revision, self.path)

    def _base_folder(self) -> Path:
        from ..errors import ModelFileError
        from .hf.local import find_snapshot

        for base in self.bases:
            folder = Path(base) if Path(base).is_dir() else find_snapshot(base)
            if folder is not None and (folder / "model_index.json").is_file():
                return folder
        name = self.bases[0] if self.bases else SD15_BASES[0]
        raise ModelFileError(f"ControlNet {self.model_id} needs a Stable Diffusion base model ({name}) in the "
                             f"Hugging Face cache; get it with: hgpt models pull {name}")

    def footprint_mb(self) -> float:
        from .hf.local import folder_size_mb

        try:
            folders = [self._model_folder()] + ([self._base_folder()] if self.kind else [])
        except OSError:
            return 0.0
        return sum(folder_size_mb(f) for f in folders) * 1.2

    # -- loading ---------------------------------------------------------------------
    def setup(self) -> None:
        from ..devices import torch_device
        from .hf.load import prepare

        prepare()
        pipe = self._load_control() if self.kind else self._load(self._model_folder())
        pipe.to(torch_device())
        pipe.set_progress_bar_config(disable=True)
        self._pipe = pipe

    @staticmethod
    def _kwargs(folder: Path) -> dict:
        from ..devices import torch_dtype

        has_safetensors = any(Path(folder).rglob("*.safetensors"))
        return {"local_files_only": True, "use_safetensors": has_safetensors, "torch_dtype": torch_dtype()}

    def _load(self, folder: Path):
        from diffusers import DiffusionPipeline

        return DiffusionPipeline.from_pretrained(str(folder), **self._kwargs(folder))

    def _load_control(self):
        from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

        folder, base = self._model_folder(), self._base_folder()
        controlnet = ControlNetModel.from_pretrained(str(folder), **self._kwargs(folder))
        return StableDiffusionControlNetPipeline.from_pretrained(str(base), controlnet=controlnet,
                                                                 **self._kwargs(base))

    def img2img(self):
        """The image-to-image pipeline over the loaded weights (made once)."""
        with self._img2img_lock:
            if self._img2img is None:
                if "Img2Img" in type(self._pipe).__name__ or "text-to-image" not in self.tasks:
                    self._img2img = self._pipe
                else:
                    from diffusers import AutoPipelineForImage2Image

                    self._img2img = AutoPipelineForImage2Image.from_pipe(self._pipe)
                    self._img2img.set_progress_bar_config(disable=True)
            return self._img2img

    def teardown(self) -> None:
        import gc

        self._pipe = self._img2img = None
        gc.collect()

    # -- running ---------------------------------------------------------------------
    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if task not in self.tasks:
            raise ExpertError(f"{self.model_id} does not do {task}; it does {', '.join(self.tasks)}")
        if task == "text-to-video":
            return self._video(args, ctx)
        if task == "image-to-image":
            return self._image(self.img2img(), self._edit_args(args), args, ctx, "image")
        if self.kind:
            control = self._fit(load_image(self._need(args, "image", task)))
            return self._image(self._pipe, {"image": control, **self._size(control)}, args, ctx, self.kind)
        return self._image(self._pipe, self._size(None), args, ctx, "image")

    def _need(self, args: dict, key: str, task: str):
        if not args.get(key):
            what = "an image" if key == "image" else "a text prompt"
            raise ExpertError(f"{task} needs {what}; give it and ask again")
        return args[key]

    def _prompt(self, args: dict) -> str:
        return str(args.get("text") or self.options.get("prompt") or DEFAULT_PROMPT).strip()

    def _edit_args(self, args: dict) -> dict:
        init = self._fit(load_image(self._need(args, "image", "image-to-image")))
        return {"image": init, "strength": float(self.options.get("strength", 0.75))}

    def _fit(self, img):
        """Scale to fit ``max_side`` (default 512) and round each side down to a multiple of 8."""
        side = int(self.options.get("max_side", 512))
        scale = min(1.0, side / max(img.size))
        w, h = (max(8, int(v * scale) // 8 * 8) for v in img.size)
        return img if (w, h) == img.size else img.resize((w, h))

    def _size(self, img) -> dict:
        if self.options.get("height") and self.options.get("width"):
            return {"height": int(self.options["height"]), "width": int(self.options["width"])}
        return {"height": img.size[1], "width": img.size[0]} if img is not None else {}

    def _common(self, pipe, ctx: ExpertContext) -> dict:
        import torch

        out = {"num_inference_steps": int(self.options.get("steps", 25)),
               "generator": torch.Generator("cpu").manual_seed(int(self.options.get("seed", 0)))}
        if "guidance_scale" in self.options:
            out["guidance_scale"] = float(self.options["guidance_scale"])
        params = inspect.signature(pipe.__call__).parameters
        if "callback_on_step_end" in params:
            out["callback_on_step_end"] = _cancel_check(ctx, out["num_inference_steps"])
        elif "callback" in params:  # older pipelines (text-to-video)
            check = _cancel_check(ctx, out["num_inference_steps"])
            out["callback"] = lambda step, t, latents: check(pipe, step, t, {})
        return out

    def _image(self, pipe, extra: dict, args: dict, ctx: ExpertContext, stem: str) -> ExpertResult:
        img = pipe(self._prompt(args), **extra, **self._common(pipe, ctx)).images[0]
        path = save_image(img, ctx.output_path(stem, ".png"))
        return ExpertResult(text=f"generated a {img.size[0]}x{img.size[1]} image", files=[path],
                            data={"size": list(img.size), "prompt": self._prompt(args)})

    def _video(self, args: dict, ctx: ExpertContext) -> ExpertResult:
        extra = {"num_frames": int(self.options.get("num_frames", 16)), **self._size(None)}
        frames = self._pipe(self._need(args, "text", "text-to-video"), **extra,
                            **self._common(self._pipe, ctx)).frames[0]
        images = _to_pil(frames)
        fps = int(self.options.get("fps", 8))
        path = save_gif(images, ctx.output_path("video", ".gif"), fps)
        return ExpertResult(text=f"generated a {len(images)}-frame video ({len(images) / fps:.1f} s)",
                            files=[path], data={"frames": len(images), "fps": fps, "size": list(images[0].size)})


def _cancel_check(ctx: ExpertContext, steps: int):
    """After each denoising step: report it (``ctx.progress``) and stop if the run was cancelled.
    The pipeline knows the real number of steps (image-to-image runs a share of them)."""

    def check(pipe, step, timestep, callback_kwargs):
        total = getattr(pipe, "_num_timesteps", None) or steps
        ctx.progress(step + 1, max(total, step + 1), "steps")
        if ctx.cancel.cancelled:
            raise Cancelled("the run was cancelled")
        return callback_kwargs
    return check


def _to_pil(frames) -> list:
    import numpy as np
    from PIL import Image

    if isinstance(frames, list) and frames and hasattr(frames[0], "save"):
        return frames
    arr = np.asarray(frames)
    if arr.dtype != np.uint8:
        arr = (arr.clip(0, 1) * 255).round().astype(np.uint8)
    return [Image.fromarray(f) for f in arr]


def save_gif(images: list, path: Path, fps: int) -> Path:
    """An animated GIF, written to a temp name and renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp.gif")
    images[0].save(tmp, save_all=True, append_images=images[1:], duration=int(1000 / max(1, fps)), loop=0)
    os.replace(tmp, path)
    return path


def expert_for_cached(repo_id: str, folder: Path, kind: str, card: dict, *, revision: str | None = None,
                      description: str = "", licence: str = "") -> DiffusionExpert | None:
    """The expert for a cached diffusers pipeline or ControlNet; None when hgpt has no task for it."""
    if kind == "controlnet":
        control = control_kind(repo_id, card)
        if control is None:
            return None
        return DiffusionExpert(repo_id, f"{control}{CONTROL_SUFFIX}", revision=revision, card=card,
                               description=description, licence=licence)
    tasks = pipeline_tasks(folder, card)
    if not tasks:
        return None
    return DiffusionExpert(repo_id, tasks, revision=revision, description=description, licence=licence)
