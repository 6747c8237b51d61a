"""Discovery of cached Hugging Face models, against a cache laid out as the Hub client does.

The cache is built in a temp folder (``models--org--name/blobs``, ``snapshots/<commit>``
linking to the blobs, ``refs/main``) holding tiny real models, plus entries that are
broken in the ways real caches break. Registration goes through the same path as the
built-ins; a discovered expert then runs from the cache.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tiny_hf
from engine.experts.base import ExpertContext
from engine.experts.hf import TransformersExpert, discover, register
from engine.experts.hf.infer import from_config
from engine.experts.registry import ExpertRegistry

import transformers  # noqa: E402,F401

pytestmark = pytest.mark.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
NER_CARD = "---\nlicense: mit\npipeline_tag: token-classification\ntags: [ner, tiny]\n---\n# Tiny NER\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("discovery-models")
    return {
        "ner": tiny_hf.build_bert(root / "ner", "token-classification", ("O", "B-PER", "B-LOC")),
        "nli": tiny_hf.build_bert(root / "nli", "text-classification", ("contradiction", "neutral", "entailment")),
        "chat": tiny_hf.build_gpt2(root / "chat", chat=True),
        "vit": tiny_hf.build_vit(root / "vit"),
    }


@pytest.fixture
def cache(tmp_path, models, monkeypatch) -> Path:
    cache = tmp_path / "hub"
    tiny_hf.cache_model(cache, "org/tiny-ner", models["ner"], card=NER_CARD)
    tiny_hf.cache_model(cache, "org/tiny-nli", models["nli"], commit="b" * 40)
    tiny_hf.cache_model(cache, "org/tiny-chat", models["chat"], commit="c" * 40)
    tiny_hf.cache_model(cache, "org/tiny-vit", models["vit"],
                        card="---\npipeline_tag: image-classification\n---\n")
    # Broken the ways real caches are: unreadable config, ref to a missing snapshot, a lone card.
    bad = tiny_hf.cache_model(cache, "org/bad-config", models["ner"], commit="d" * 40)
    (bad / "config.json").unlink()
    (bad / "config.json").write_text("{not json")
    dangling = cache / "models--org--dangling"
    (dangling / "refs").mkdir(parents=True)
    (dangling / "refs" / "main").write_text("e" * 40)
    tiny_hf.cache_model(cache, "org/tabular", models["vit"], commit="f" * 40,
                        card="---\npipeline_tag: tabular-classification\n---\n")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_cached_models_become_experts_with_their_tasks(cache):
    found = {e.model_id: e for e in discover()}
    assert set(found) == {"org/tiny-ner", "org/tiny-nli", "org/tiny-chat", "org/tiny-vit"}
    assert found["org/tiny-ner"].tasks == ("token-classification",)  # from the card's pipeline_tag
    assert found["org/tiny-nli"].tasks == ("text-classification", "zero-shot-classification")  # labels say NLI
    assert found["org/tiny-chat"].tasks == ("text-generation", "conversational")  # chat template
    assert found["org/tiny-ner"].licence == "mit" and found["org/tiny-ner"].revision == "a" * 40
    assert all(e.missing() is None for e in found.values())


def test_registration_skips_ids_already_served_and_survives_broken_entries(cache):
    registry = ExpertRegistry()
    registry.register(TransformersExpert("org/tiny-vit", "image-classification", path=cache))
    added = register(registry)
    assert {e.model_id for e in added} == {"org/tiny-ner", "org/tiny-nli", "org/tiny-chat"}
    assert len(registry) == 4 and "org/bad-config" not in registry


def test_builtin_registration_includes_the_cache(cache):
    from engine.experts import builtin

    registry = ExpertRegistry()
    builtin.register(registry)
    assert "org/tiny-ner" in registry
    assert [e.model_id for e in registry.for_task("canny-control")] == ["hgpt/canny-control"]
    assert "org/tiny-nli" in [e.model_id for e in registry.for_task("zero-shot-classification")]


def test_a_discovered_expert_runs_from_the_cache(cache, tmp_path):
    expert = next(e for e in discover() if e.model_id == "org/tiny-ner")
    expert.backend = "torch"
    result = expert("token-classification", {"text": "john lives in paris"}, ExpertContext(tmp_path))
    assert isinstance(result.text, str) and result.data["backend"] == "torch"
    card = expert.card()
    assert card["path"].endswith("snapshots/" + "a" * 40) and card["revision"] == "a" * 40


def test_a_model_missing_from_the_cache_says_how_to_pull_it(cache):
    expert = TransformersExpert("org/not-here", "text-classification")
    assert expert.missing() == (f"org/not-here is not in the Hugging Face cache ({cache}); "
                                "get it with: hgpt models pull org/not-here")
    pinned = TransformersExpert("org/tiny-ner", "token-classification", revision="9" * 40)
    assert "at revision 9999" in pinned.missing()


def test_discovery_imports_nothing_heavy(cache):
    code = ("import sys; from engine.experts.hf import discover; "
            "found = discover(); assert len(found) == 4, found; "
            "heavy = [m for m in ('torch', 'transformers', 'optimum', 'diffusers') if m in sys.modules]; "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_an_empty_or_absent_cache_registers_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nowhere"))
    assert discover() == []


@pytest.mark.parametrize("config, task", [
    ({"model_type": "vilt", "architectures": ["ViltForQuestionAnswering"]}, "visual-question-answering"),
    ({"model_type": "layoutlm", "architectures": ["LayoutLMForQuestionAnswering"]}, "document-question-answering"),
    ({"model_type": "bert", "architectures": ["BertForQuestionAnswering"]}, "question-answering"),
    ({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"]}, "automatic-speech-recognition"),
    ({"model_type": "wav2vec2", "architectures": ["Wav2Vec2ForSequenceClassification"]}, "audio-classification"),
    ({"model_type": "bart", "architectures": ["BartForConditionalGeneration"]}, "text2text-generation"),
    ({"model_type": "marian", "architectures": ["MarianMTModel"]}, "translation"),
    ({"model_type": "vision-encoder-decoder", "architectures": ["VisionEncoderDecoderModel"]}, "image-to-text"),
    ({"model_type": "detr", "architectures": ["DetrForObjectDetection"]}, "object-detection"),
    ({"model_type": "speecht5", "architectures": ["SpeechT5ForTextToSpeech"]}, "text-to-speech"),
    ({"model_type": "vits", "architectures": ["VitsModel"]}, "text-to-speech"),
    ({"model_type": "speecht5", "architectures": ["SpeechT5ForSpeechToSpeech"]}, "audio-to-audio"),
    ({"model_type": "swin2sr", "architectures": ["Swin2SRForImageSuperResolution"]}, "image-to-image"),
    ({"model_type": "mystery", "architectures": ["MysteryThing"]}, None),
])
def test_task_from_the_architecture_when_there_is_no_card(config, task):
    assert from_config(config) == task


def test_the_registry_entry_point_keeps_working_with_a_broken_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    (cache / "models--org--x" / "snapshots").mkdir(parents=True)  # no refs, no snapshot
    (cache / "models--org--x" / "blobs").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert discover() == []


def test_hf_home_is_respected_when_hf_hub_cache_is_not_set(tmp_path, models, monkeypatch):
    tiny_hf.cache_model(tmp_path / "hf-home" / "hub", "org/tiny-vit", models["vit"],
                        card="---\npipeline_tag: image-classification\n---\n")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    assert [(e.model_id, e.tasks) for e in discover()] == [("org/tiny-vit", ("image-classification",))]


def test_discovered_experts_get_the_onnx_folder_from_the_registrys_settings(cache, settings):
    with_settings = ExpertRegistry(settings=settings)
    register(with_settings)
    assert {e.onnx_dir for e in with_settings if isinstance(e, TransformersExpert)} == {settings.onnx_dir}
    assert settings.onnx_dir == settings.home / "onnx"
    without = ExpertRegistry()
    register(without)
    assert {e.onnx_dir for e in without if isinstance(e, TransformersExpert)} == {None}
