"""diffusers generation and ControlNet preprocessing, with tiny random-weight pipelines.

The pipelines (a Stable Diffusion 1.x layout, a ControlNet, a text-to-video UNet3D)
are built at toy size and saved with ``save_pretrained``; the experts load them with
their real loading code and denoise for two steps. The pictures are noise; their
files, sizes and frame counts are what is asserted. The control maps are checked on
images whose edges are known.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import diffusers  # noqa: E402,F401

import tiny_hf  # noqa: E402
from engine.errors import Cancelled  # noqa: E402
from engine.experts import diffusion  # noqa: E402
from engine.experts.base import ExpertContext  # noqa: E402
from engine.experts.control import ControlMapExpert, canny, control_experts, normals_from_depth  # noqa: E402
from engine.experts.diffusion import DiffusionExpert  # noqa: E402
from engine.experts.hf import TransformersExpert, discover  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore")
FAST = {"steps": 2, "height": 32, "width": 32}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pipes(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diffusers")
    return {"sd": tiny_hf.build_stable_diffusion(root / "sd"),
            "controlnet": tiny_hf.build_controlnet(root / "sd-controlnet-canny"),
            "video": tiny_hf.build_text_to_video(root / "t2v")}


def ctx(tmp_path: Path) -> ExpertContext:
    return ExpertContext(tmp_path / "run", task_id=2)


def opened(path):
    from PIL import Image

    img = Image.open(path)
    img.load()
    return img


def square(tmp_path: Path, size: int = 64) -> Path:
    from PIL import Image

    arr = np.zeros((size, size, 3), dtype=np.uint8)
    arr[16:48, 16:48] = 255
    path = tmp_path / "square.png"
    Image.fromarray(arr).save(path)
    return path


# -- generation -----------------------------------------------------------------------------
def test_text_to_image_writes_a_png_of_the_asked_size(pipes, tmp_path):
    e = DiffusionExpert("tiny/sd", ("text-to-image", "image-to-image"), path=pipes["sd"], options=FAST)
    assert e.missing() is None
    reports = []
    c = ctx(tmp_path)
    c.report = lambda done, total, unit: reports.append((done, total, unit))
    r = e("text-to-image", {"text": "a red house"}, c)
    img = opened(r.files[0])
    assert (img.format, img.size) == ("PNG", (32, 32)) and r.data["prompt"] == "a red house"
    assert reports == [(1.0, 2.0, "steps"), (2.0, 2.0, "steps")]  # each denoising step, reported


def test_image_to_image_reuses_the_loaded_weights(pipes, images, tmp_path):
    e = DiffusionExpert("tiny/sd", ("text-to-image", "image-to-image"), path=pipes["sd"],
                        options={"steps": 2, "max_side": 32})
    r = e("image-to-image", {"image": images["chelsea"]}, ctx(tmp_path))
    assert opened(r.files[0]).size == (32, 16)  # 451x300 fitted into 32, sides rounded to 8
    assert e.img2img().unet is e._pipe.unet


def test_text_to_video_writes_an_animated_gif(pipes, tmp_path):
    e = DiffusionExpert("tiny/t2v", "text-to-video", path=pipes["video"], options={**FAST, "num_frames": 3})
    r = e("text-to-video", {"text": "a dog running"}, ctx(tmp_path))
    gif = opened(r.files[0])
    assert gif.format == "GIF" and gif.n_frames == r.data["frames"] == 3 and gif.size == (32, 32)


def test_controlnet_follows_a_canny_map_made_from_a_photo(pipes, images, tmp_path):
    edges = ControlMapExpert("canny")("canny-control", {"image": images["chelsea"]}, ctx(tmp_path))
    assert opened(edges.files[0]).size == (451, 300)
    e = DiffusionExpert("tiny/sd-controlnet-canny", "canny-text-to-image", path=pipes["controlnet"],
                        base=pipes["sd"], options={"steps": 2, "max_side": 48})
    assert e.kind == "canny" and e.missing() is None
    r = e("canny-text-to-image", {"text": "a cat", "image": edges.files[0]}, ctx(tmp_path))
    assert opened(r.files[0]).size == (48, 24)  # the control map's shape, fitted


def test_cancelling_stops_denoising(pipes, tmp_path):
    e = DiffusionExpert("tiny/sd", "text-to-image", path=pipes["sd"], options=FAST)
    c = ctx(tmp_path)
    c.cancel.cancel()
    with pytest.raises(Cancelled):
        e("text-to-image", {"text": "a red house"}, c)


# -- what is missing, in words -------------------------------------------------------------------
def test_missing_diffusers_names_the_extra(pipes, monkeypatch):
    monkeypatch.setattr(diffusion, "PACKAGES", ("torch", "diffusers", "hgpt_no_such_package"))
    e = DiffusionExpert("tiny/sd", "text-to-image", path=pipes["sd"])
    assert e.missing() == "hgpt_no_such_package not installed. Install with: pip install 'hgpt[diffusion]'"


def test_missing_model_and_missing_base_say_what_to_pull(pipes, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert DiffusionExpert("org/sd-turbo", "text-to-image").missing().endswith("hgpt models pull org/sd-turbo")
    e = DiffusionExpert("tiny/cn", "canny-text-to-image", path=pipes["controlnet"],
                        card={"base_model": "org/my-sd15"})
    assert e.missing() == ("ControlNet tiny/cn needs a Stable Diffusion base model (org/my-sd15) in the "
                           "Hugging Face cache; get it with: hgpt models pull org/my-sd15")


# -- discovery ------------------------------------------------------------------------------------
def test_cached_pipelines_and_controlnets_are_discovered(pipes, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/tiny-sd", pipes["sd"], card="---\npipeline_tag: text-to-image\n---\n")
    tiny_hf.cache_model(cache, "org/tiny-t2v", pipes["video"], commit="b" * 40)
    tiny_hf.cache_model(cache, "org/sd-controlnet-canny", pipes["controlnet"], commit="c" * 40,
                        card="---\nbase_model: org/tiny-sd\ntags: [controlnet]\n---\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    found = {e.model_id: e for e in discover()}
    assert found["org/tiny-sd"].tasks == ("text-to-image", "image-to-image")
    assert found["org/tiny-t2v"].tasks == ("text-to-video",)
    assert found["org/sd-controlnet-canny"].tasks == ("canny-text-to-image",)
    assert all(e.missing() is None for e in found.values())
    found["org/sd-controlnet-canny"].options.update(steps=1, max_side=32)
    r = found["org/sd-controlnet-canny"]("canny-text-to-image", {"text": "x", "image": square(tmp_path)},
                                           ctx(tmp_path))
    assert opened(r.files[0]).size == (32, 32)


@pytest.mark.parametrize("name, kind", [("lllyasviel/sd-controlnet-canny", "canny"),
                                        ("lllyasviel/control_v11p_sd15_softedge", "hed"),
                                        ("lllyasviel/control_v11p_sd15_normalbae", "normal"),
                                        ("lllyasviel/sd-controlnet-openpose", "openpose"),
                                        ("someone/controlnet-x", None)])
def test_control_kind_from_the_name(name, kind):
    assert diffusion.control_kind(name, {}) == kind


# -- control maps ---------------------------------------------------------------------------------
def test_canny_finds_the_border_of_a_square_and_nothing_else(tmp_path):
    from PIL import Image

    edges = canny(Image.open(square(tmp_path)))
    ys, xs = np.nonzero(edges)
    assert edges.dtype == np.uint8 and set(np.unique(edges)) == {0, 255}
    assert ys.min() >= 14 and ys.max() <= 49 and xs.min() >= 14 and xs.max() <= 49
    assert not edges[20:44, 20:44].any()  # a flat inside has no edges
    assert edges[15:17, 20:44].any(axis=0).all()  # the top side is one unbroken line


def test_normals_of_a_flat_depth_face_the_viewer():
    rgb = normals_from_depth(np.ones((8, 8), dtype=np.float32))
    assert rgb.shape == (8, 8, 3) and (rgb[..., 2] == 255).all() and (np.abs(rgb[..., :2].astype(int) - 127) <= 1).all()


def test_depth_normal_and_seg_maps_come_from_cached_models(tmp_path, images):
    dpt = TransformersExpert("tiny/dpt", "depth-estimation", path=tiny_hf.build_dpt(tmp_path / "dpt"),
                             backend="torch")
    seg = TransformersExpert("tiny/seg", "image-segmentation",
                             path=tiny_hf.build_segformer(tmp_path / "seg"), backend="torch")
    makers = {e.kind: e for e in control_experts([dpt, seg])}
    assert set(makers) == {"canny", "depth", "normal", "seg"}
    for kind, maker in makers.items():
        r = maker(f"{kind}-control", {"image": images["coffee"]}, ctx(tmp_path))
        img = opened(r.files[0])
        assert (img.mode, img.size) == ("RGB", (600, 400)), kind


def test_annotator_only_kinds_say_what_to_do_instead():
    for kind in ("hed", "mlsd", "openpose", "scribble"):
        message = ControlMapExpert(kind).missing()
        assert "not available offline" in message and "canny-control" in message
    assert "depth-estimation model" in ControlMapExpert("depth").missing()
