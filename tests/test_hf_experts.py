"""Every transformers task runner, through ``TransformersExpert``'s real loading code.

Each test builds a tiny random-weight model of a real architecture (see ``tiny_hf``),
loads it from its folder the way a cached Hub model is loaded (local files only,
safetensors, no remote code) and runs a real input through the real pipeline. The
answers are noise; the tests assert their shape: the text is a string, a PNG has the
input's size, the number of boxes drawn equals the detections, a WAV has samples.
"""

from __future__ import annotations

import importlib
import wave
from pathlib import Path

import numpy as np
import pytest

import tiny_hf
from engine.errors import ExpertError
from engine.experts.base import ExpertContext
from engine.experts.hf import TransformersExpert
from engine.experts.hf.runners import UNSUPPORTED, supported_tasks
from engine.experts.media import write_wav
from engine.tasks import TASK_TYPES

importlib.import_module("transformers")  # scripts/setup installs it: a missing one fails here
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """``tiny(name, build, *args)``: the folder of a tiny model, built once per session."""
    root = tmp_path_factory.mktemp("tiny-models")
    built: dict[str, Path] = {}

    def get(name: str, build, *args) -> Path:
        if name not in built:
            built[name] = build(root / name, *args)
        return built[name]
    return get


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> Path:
    """Two seconds of a gliding tone at 22.05 kHz (resampled to 16 kHz by the runners)."""
    rate = 22050
    t = np.arange(2 * rate) / rate
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    return write_wav(path, 0.3 * np.sin(2 * np.pi * (200 + 100 * t) * t), rate)


def run(expert, task: str, args: dict, tmp_path: Path):
    ctx = ExpertContext(tmp_path / "run", task_id=1)
    result = expert(task, args, ctx)
    assert isinstance(result.text, str)
    for f in result.files:
        assert Path(f).parent == ctx.run_dir and Path(f).stat().st_size > 0
    return result


def expert(folder: Path, task, **kw) -> TransformersExpert:
    e = TransformersExpert(f"tiny/{folder.name}", task, path=folder, backend=kw.pop("backend", "torch"), **kw)
    assert e.missing() is None, e.missing()
    return e


def png_size(path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def wav_frames(path) -> int:
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1
        return w.getnframes()


# -- coverage of the task table ---------------------------------------------------------
def test_every_base_task_type_has_a_runner_or_a_reason():
    diffusion = {"text-to-image", "text-to-video"}
    base = {t for t in TASK_TYPES if not t.endswith(("-control", "-text-to-image"))}
    assert base - diffusion <= set(supported_tasks()) | set(UNSUPPORTED)
    assert "because" not in UNSUPPORTED["tabular-classification"]  # a reason in words, with an alternative
    assert "image-to-text" in UNSUPPORTED["tabular-classification"]


def test_tabular_classification_is_refused_with_what_to_do_instead(tiny):
    e = TransformersExpert("someone/tabular", "tabular-classification", path=tiny("vit", tiny_hf.build_vit))
    assert "text-classification" in e.missing() and "pickle" in e.missing()


# -- text ----------------------------------------------------------------------------------
def test_token_classification_lists_entities(tiny, tmp_path):
    folder = tiny("ner", tiny_hf.build_bert, "token-classification", ("O", "B-PER", "B-LOC"))
    r = run(expert(folder, "token-classification"), "token-classification", {"text": "john lives in paris"}, tmp_path)
    assert all({"word", "entity", "score"} <= set(e) for e in r.data["entities"])
    assert {e["entity"] for e in r.data["entities"]} <= {"O", "PER", "LOC"}


def test_text_classification_ranks_the_model_labels(tiny, tmp_path):
    folder = tiny("sentiment", tiny_hf.build_bert, "text-classification", ("NEGATIVE", "POSITIVE"))
    r = run(expert(folder, "text-classification"), "text-classification", {"text": "a great movie"}, tmp_path)
    assert {x["label"] for x in r.data["labels"]} == {"NEGATIVE", "POSITIVE"}
    assert r.text.split()[0] in ("NEGATIVE", "POSITIVE")


def test_nli_model_serves_zero_shot_and_shares_its_weights(tiny, tmp_path):
    folder = tiny("nli", tiny_hf.build_bert, "text-classification", ("contradiction", "neutral", "entailment"))
    e = expert(folder, ("zero-shot-classification", "text-classification"))
    r = run(e, "zero-shot-classification", {"text": "the cat sat on the mat", "labels": "animals, politics"}, tmp_path)
    assert {x["label"] for x in r.data["labels"]} == {"animals", "politics"}
    assert abs(sum(x["score"] for x in r.data["labels"]) - 1.0) < 1e-4
    run(e, "text-classification", {"text": "paris is in france"}, tmp_path)
    zs, tc = e.pipeline_for("zero-shot-classification"), e.pipeline_for("text-classification")
    assert zs.model is tc.model
    with pytest.raises(ExpertError, match="at least two labels"):
        run(e, "zero-shot-classification", {"text": "the cat"}, tmp_path)


def test_question_answering_returns_a_span_of_the_context(tiny, tmp_path):
    folder = tiny("qa", tiny_hf.build_bert, "question-answering")
    context = "john lives in paris"
    r = run(expert(folder, "question-answering"), "question-answering",
            {"text": "where does john live", "context": context}, tmp_path)
    assert r.text == context[r.data["start"]:r.data["end"]].strip()


def test_fill_mask_accepts_the_common_placeholders(tiny, tmp_path):
    e = expert(tiny("mlm", tiny_hf.build_bert, "fill-mask"), "fill-mask")
    r = run(e, "fill-mask", {"text": "john lives in <mask>"}, tmp_path)
    assert r.text.startswith("john lives in") and len(r.data["candidates"]) == 5
    with pytest.raises(ExpertError, match="masked word"):
        run(e, "fill-mask", {"text": "john lives in paris"}, tmp_path)


def test_sentence_similarity_is_a_cosine(tiny, tmp_path):
    e = expert(tiny("encoder", tiny_hf.build_bert, "feature-extraction"), "sentence-similarity")
    same = run(e, "sentence-similarity", {"text": "the cat sat", "text2": "the cat sat"}, tmp_path)
    other = run(e, "sentence-similarity", {"text": "the cat sat", "text2": "paris is in france"}, tmp_path)
    assert same.data["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= other.data["similarity"] < same.data["similarity"]


def test_text_generation_and_chat_through_the_template(tiny, tmp_path):
    e = expert(tiny("chat", tiny_hf.build_gpt2, True), ("text-generation", "conversational"),
               options={"max_new_tokens": 6})
    gen = run(e, "text-generation", {"text": "the cat"}, tmp_path)
    chat = run(e, "conversational", {"text": "hello there"}, tmp_path)
    assert isinstance(gen.text, str) and chat.data["chat_template"] is True


@pytest.mark.parametrize("task", ["summarization", "translation", "text2text-generation"])
def test_seq2seq_tasks(tiny, tmp_path, task):
    e = expert(tiny("bart", tiny_hf.build_bart), task, options={"max_new_tokens": 5})
    r = run(e, task, {"text": "the cat sat on the mat in paris"}, tmp_path)
    assert isinstance(r.text, str)


def test_missing_argument_says_what_to_write(tiny, tmp_path):
    e = expert(tiny("sentiment", tiny_hf.build_bert, "text-classification", ("NEGATIVE", "POSITIVE")),
               "text-classification")
    with pytest.raises(ExpertError, match="needs a non-empty 'text'"):
        run(e, "text-classification", {"text": "  "}, tmp_path)


# -- vision --------------------------------------------------------------------------------
def test_image_classification(tiny, images, tmp_path):
    r = run(expert(tiny("vit", tiny_hf.build_vit), "image-classification"), "image-classification",
            {"image": images["chelsea"]}, tmp_path)
    assert {x["label"] for x in r.data["labels"]} == {"cat", "dog", "car"}


def test_object_detection_draws_one_box_per_detection(tiny, images, tmp_path):
    e = expert(tiny("detr", tiny_hf.build_detr), "object-detection", options={"threshold": 0.0})
    r = run(e, "object-detection", {"image": images["chelsea"]}, tmp_path)
    assert r.data["boxes_drawn"] == len(r.data["detections"]) == 5  # threshold 0: every query
    assert png_size(r.files[0]) == (451, 300)
    from PIL import Image

    drawn = np.asarray(Image.open(r.files[0]).convert("RGB"), dtype=np.int16)
    original = np.asarray(Image.open(images["chelsea"]).convert("RGB"), dtype=np.int16)
    assert (np.abs(drawn - original).sum(axis=2) > 0).mean() > 0.001  # boxes were drawn on a copy


def test_image_segmentation_overlay_has_the_image_size(tiny, images, tmp_path):
    r = run(expert(tiny("segformer", tiny_hf.build_segformer), "image-segmentation"), "image-segmentation",
            {"image": images["astronaut"]}, tmp_path)
    assert png_size(r.files[0]) == (512, 512)
    assert {s["label"] for s in r.data["segments"]} <= {"sky", "cat", "floor"}
    assert sum(s["area"] for s in r.data["segments"]) == pytest.approx(1.0, abs=0.01)
    from PIL import Image

    for seg in r.data["segments"]:  # each segment's own mask, in the run folder, for views to draw
        mask = Image.open(seg["mask"])
        assert Path(seg["mask"]).parent == r.files[0].parent and mask.size == (512, 512)
        assert (np.asarray(mask) > 127).mean() == pytest.approx(seg["area"], abs=0.001)


def test_depth_estimation_writes_a_grey_map_of_the_image_size(tiny, images, tmp_path):
    from PIL import Image

    r = run(expert(tiny("dpt", tiny_hf.build_dpt), "depth-estimation"), "depth-estimation",
            {"image": images["coffee"]}, tmp_path)
    assert png_size(r.files[0]) == (600, 400)
    assert Image.open(r.files[0]).mode == "L"


def test_image_to_text_captions(tiny, images, tmp_path):
    e = expert(tiny("captioner", tiny_hf.build_captioner), "image-to-text", options={"max_new_tokens": 6})
    r = run(e, "image-to-text", {"image": images["chelsea"]}, tmp_path)
    assert isinstance(r.text, str)


def test_visual_question_answering_answers_from_the_model_vocabulary(tiny, images, tmp_path):
    r = run(expert(tiny("vilt", tiny_hf.build_vilt), "visual-question-answering"), "visual-question-answering",
            {"image": images["chelsea"], "text": "what is it"}, tmp_path)
    assert r.text in {"yes", "no", "two", "cat"} and len(r.data["answers"]) == 3


@pytest.mark.slow
def test_document_question_answering_reads_the_page_with_rapidocr(tiny, images, tmp_path):
    import rapidocr_onnxruntime  # noqa: F401
    r = run(expert(tiny("layoutlm", tiny_hf.build_layoutlm), "document-question-answering"),
            "document-question-answering", {"image": images["page"], "text": "what is the title"}, tmp_path)
    assert r.data["ocr"] == "rapidocr" and r.data["words"] > 10  # the scanned page has many words
    assert isinstance(r.text, str)


def test_document_question_answering_with_a_donut_model_needs_no_ocr(tiny, images, tmp_path):
    e = expert(tiny("donut", tiny_hf.build_donut), "document-question-answering", options={"max_new_tokens": 8})
    r = run(e, "document-question-answering", {"image": images["page"], "text": "what is the title"}, tmp_path)
    assert "ocr" not in r.data and isinstance(r.data["answered"], bool)


def test_ocr_words_are_on_layoutlms_grid(images):
    import rapidocr_onnxruntime  # noqa: F401
    from engine.experts.hf.vision import ocr_words
    from engine.experts.media import load_image

    words = ocr_words(load_image(images["page"]))
    assert words and all(" " not in w and all(0 <= v <= 1000 for v in box) and box[0] <= box[2]
                         for w, box in words)


def test_image_to_image_upscales(tiny, images, tmp_path):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.open(images["chelsea"]).resize((40, 28)).save(small)
    r = run(expert(tiny("swin2sr", tiny_hf.build_swin2sr), "image-to-image"), "image-to-image",
            {"image": small}, tmp_path)
    w, h = png_size(r.files[0])
    assert (w, h) == tuple(r.data["size"]) and w >= 80 and h >= 56  # upscale 2 (after padding)


# -- audio ---------------------------------------------------------------------------------
def test_speech_recognition_with_whisper(tiny, speech, tmp_path):
    e = expert(tiny("whisper", tiny_hf.build_whisper), "automatic-speech-recognition",
               options={"max_new_tokens": 5})
    r = run(e, "automatic-speech-recognition", {"audio": speech}, tmp_path)
    assert isinstance(r.text, str) and r.data["seconds"] == pytest.approx(2.0, abs=0.01)


def test_audio_classification(tiny, speech, tmp_path):
    r = run(expert(tiny("w2v-cls", tiny_hf.build_wav2vec2_classifier), "audio-classification"),
            "audio-classification", {"audio": speech}, tmp_path)
    assert {x["label"] for x in r.data["labels"]} == {"speech", "music", "dog"}


def test_text_to_speech_with_vits_writes_a_wav(tiny, tmp_path):
    r = run(expert(tiny("vits", tiny_hf.build_vits), "text-to-speech"), "text-to-speech",
            {"text": "the cat sat on the mat"}, tmp_path)
    assert r.files[0].suffix == ".wav" and wav_frames(r.files[0]) == r.data["samples"] > 0


def test_audio_to_audio_with_speecht5_voice_conversion(tiny, speech, tmp_path):
    vc = tiny("speecht5-vc", lambda d: tiny_hf.build_speecht5_vc(d, d.parent / "hifigan")[0])
    e = expert(vc, "audio-to-audio", options={"vocoder": str(vc.parent / "hifigan")})
    r = run(e, "audio-to-audio", {"audio": speech}, tmp_path)
    assert wav_frames(r.files[0]) == r.data["samples"] > 0


def test_audio_to_audio_names_the_family_that_works(tiny):
    e = TransformersExpert("tiny/w2v", "audio-to-audio", path=tiny("w2v-cls", tiny_hf.build_wav2vec2_classifier))
    assert "speecht5_vc" in e.missing() and "transformers has no audio-to-audio pipeline" in e.missing()


def test_speecht5_without_its_vocoder_says_how_to_get_it(tiny, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    vc = tiny("speecht5-vc", lambda d: tiny_hf.build_speecht5_vc(d, d.parent / "hifigan")[0])
    e = TransformersExpert("tiny/vc", "audio-to-audio", path=vc)
    assert e.missing() == "SpeechT5 needs its vocoder; get it with: hgpt models pull microsoft/speecht5_hifigan"


# -- safe loading ----------------------------------------------------------------------------
def test_pickle_weights_load_only_as_tensors(tmp_path, images):
    """A folder with only pytorch_model.bin loads (transformers uses torch.load(weights_only=True))."""
    import transformers

    folder = tiny_hf.build_vit(tmp_path / "vit-bin")
    model = transformers.ViTForImageClassification.from_pretrained(folder)
    (folder / "model.safetensors").unlink()
    model.save_pretrained(folder, safe_serialization=False)
    assert (folder / "pytorch_model.bin").is_file()
    r = run(expert(folder, "image-classification"), "image-classification", {"image": images["chelsea"]}, tmp_path)
    assert len(r.data["labels"]) == 3


def test_a_model_that_needs_remote_code_is_refused_in_one_line(tmp_path, images):
    folder = tiny_hf.build_vit(tmp_path / "custom")
    config = (folder / "config.json").read_text().replace('"model_type": "vit"', '"model_type": "my-custom-vit"')
    (folder / "config.json").write_text(config.replace('"architectures"', '"auto_map": {"AutoConfig": '
                                                       '"custom.MyConfig"}, "architectures"'))
    e = TransformersExpert("someone/custom", "image-classification", path=folder, backend="torch")
    with pytest.raises(ExpertError) as info:
        run(e, "image-classification", {"image": images["chelsea"]}, tmp_path)
    message = str(info.value)
    assert message.startswith("someone/custom could not be loaded for image-classification: ")
    assert "\n" not in message and "trust_remote_code" in message


def test_a_folder_without_weights_says_so(tmp_path):
    folder = tiny_hf.build_vit(tmp_path / "no-weights")
    (folder / "model.safetensors").unlink()
    assert "has no PyTorch weights" in TransformersExpert("x/y", "image-classification", path=folder).missing()


def _installed(monkeypatch, name: str, present: bool) -> None:
    """``importlib.util.find_spec`` answering for ``name`` as if it were (not) installed."""
    import importlib.machinery
    import importlib.util

    real = importlib.util.find_spec
    spec = importlib.machinery.ModuleSpec(name, None) if present else None
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a, **k: spec if n == name else real(n, *a, **k))


def test_speecht5_text_to_speech_without_sentencepiece_says_what_to_install(tiny, tmp_path, monkeypatch):
    import shutil

    vc = tiny("speecht5-vc", lambda d: tiny_hf.build_speecht5_vc(d, d.parent / "hifigan")[0])
    tts = shutil.copytree(vc, tmp_path / "speecht5-tts")
    config = (tts / "config.json").read_text().replace("SpeechT5ForSpeechToSpeech", "SpeechT5ForTextToSpeech")
    (tts / "config.json").write_text(config)
    e = TransformersExpert("tiny/tts", "text-to-speech", path=tts)
    _installed(monkeypatch, "sentencepiece", False)
    assert e.missing() == "SpeechT5's tokenizer needs sentencepiece. Install it with: pip install sentencepiece"
    _installed(monkeypatch, "sentencepiece", True)
    assert "sentencepiece" not in (e.missing() or "")


def test_a_timm_backbone_without_timm_says_what_to_install(tiny, tmp_path, monkeypatch):
    import shutil

    detr = shutil.copytree(tiny("detr", tiny_hf.build_detr), tmp_path / "detr-timm")
    config = (detr / "config.json").read_text().replace('"use_timm_backbone": false', '"use_timm_backbone": true')
    (detr / "config.json").write_text(config)
    e = TransformersExpert("facebook/detr-resnet-50", "object-detection", path=detr)
    _installed(monkeypatch, "timm", False)
    assert e.missing() == "facebook/detr-resnet-50 uses a timm backbone. Install it with: pip install timm"
    _installed(monkeypatch, "timm", True)
    assert "timm" not in (e.missing() or "")


def test_outside_runner_plugins_register_through_their_entry_point(monkeypatch, tmp_path):
    """A package names a module in the ``hgpt.runners`` group; its ``@runner`` functions
    serve their task, and a broken one is reported without stopping the rest."""
    import importlib.metadata as md
    import sys

    from engine.experts.hf import runners

    (tmp_path / "acme_runners.py").write_text(
        "from engine.experts.base import ExpertResult\n"
        "from engine.experts.hf.runners import runner\n"
        "@runner('acme-task', pipeline='text-classification')\n"
        "def run(loaded, args, ctx, options):\n"
        "    return ExpertResult(text='acme')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    good = md.EntryPoint("acme", "acme_runners", runners.ENTRY_POINT_GROUP)
    bad = md.EntryPoint("broken", "no_such_module_here", runners.ENTRY_POINT_GROUP)
    monkeypatch.setattr(md, "entry_points", lambda group=None: [good, bad] if group == runners.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(runners, "_loaded", False)
    monkeypatch.setattr(runners, "RUNNERS", dict(runners.RUNNERS))
    monkeypatch.setattr(runners, "PLUGIN_ERRORS", {})
    assert runners.get("acme-task").pipeline == "text-classification"
    assert "no_such_module_here" in runners.PLUGIN_ERRORS["broken"]
    assert "image-classification" in runners.supported_tasks()
    sys.modules.pop("acme_runners", None)
