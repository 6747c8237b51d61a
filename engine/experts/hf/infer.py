"""Which hgpt task types a model folder can serve, read from its own files.

The README's front matter is the Hub's word (``pipeline_tag``); when a folder has
no card, the architecture named in ``config.json`` decides (``…ForTokenClassification``
is token classification, ``VisionEncoderDecoderModel`` is captioning, …). A few
models serve more than their tag: a causal LM with a chat template also converses,
an NLI classifier (labels include "entailment") also does zero-shot classification.
Diffusers folders (``model_index.json``, or a ControlNet's config) are told apart
here too, so discovery can hand them to the diffusion runtime.

Only files are read; nothing heavy is imported.
"""

from __future__ import annotations

from pathlib import Path

from .local import read_card, read_json

# Hub pipeline tags -> hgpt task types (the Hub's own names where they agree).
TAGS = {
    "token-classification": "token-classification", "text-classification": "text-classification",
    "zero-shot-classification": "zero-shot-classification", "question-answering": "question-answering",
    "summarization": "summarization", "translation": "translation", "text-generation": "text-generation",
    "text2text-generation": "text2text-generation", "fill-mask": "fill-mask",
    "conversational": "conversational", "sentence-similarity": "sentence-similarity",
    "feature-extraction": "sentence-similarity", "image-classification": "image-classification",
    "object-detection": "object-detection", "image-segmentation": "image-segmentation",
    "depth-estimation": "depth-estimation", "image-to-text": "image-to-text",
    "visual-question-answering": "visual-question-answering",
    "document-question-answering": "document-question-answering", "image-to-image": "image-to-image",
    "automatic-speech-recognition": "automatic-speech-recognition",
    "audio-classification": "audio-classification", "text-to-speech": "text-to-speech",
    "text-to-audio": "text-to-speech", "audio-to-audio": "audio-to-audio",
    "tabular-classification": "tabular-classification",
}

# Architecture name endings -> task, most specific first.
ARCHITECTURES = [
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "fill-mask"),
    ("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
    ("ForImageClassification", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "image-segmentation"), ("ForUniversalSegmentation", "image-segmentation"),
    ("ForInstanceSegmentation", "image-segmentation"), ("ForPanopticSegmentation", "image-segmentation"),
    ("ForDepthEstimation", "depth-estimation"),
    ("VisionEncoderDecoderModel", "image-to-text"),
    ("ForImageSuperResolution", "image-to-image"),
    ("ForCTC", "automatic-speech-recognition"), ("ForSpeechSeq2Seq", "automatic-speech-recognition"),
    ("ForAudioClassification", "audio-classification"),
    ("ForTextToSpeech", "text-to-speech"), ("ForTextToWaveform", "text-to-speech"),
    ("VitsModel", "text-to-speech"),
    ("ForSpeechToSpeech", "audio-to-audio"),
]
# Model types whose generic heads mean something more specific.
SPECIAL = {
    ("vilt", "ForQuestionAnswering"): "visual-question-answering",
    ("layoutlm", "ForQuestionAnswering"): "document-question-answering",
    ("layoutlmv2", "ForQuestionAnswering"): "document-question-answering",
    ("layoutlmv3", "ForQuestionAnswering"): "document-question-answering",
    ("whisper", "ForConditionalGeneration"): "automatic-speech-recognition",
    ("speech_to_text", "ForConditionalGeneration"): "automatic-speech-recognition",
    ("blip", "ForConditionalGeneration"): "image-to-text",
    ("git", "ForCausalLM"): "image-to-text",
    ("pix2struct", "ForConditionalGeneration"): "image-to-text",
    ("marian", "MTModel"): "translation",
    ("bark", "Model"): "text-to-speech",
}
SEQ2SEQ_TYPES = {"bart", "t5", "mt5", "pegasus", "mbart", "marian", "m2m_100", "led", "longt5", "nllb-moe",
                 "bigbird_pegasus", "prophetnet", "fsmt", "umt5"}
AUDIO_TYPES = {"wav2vec2", "hubert", "wavlm", "audio-spectrogram-transformer", "whisper", "data2vec-audio",
               "unispeech", "unispeech-sat", "sew", "sew-d", "wav2vec2-conformer", "clap"}


def model_kind(folder: Path) -> str:
    """"transformers", "diffusers-pipeline", "controlnet" or "" (not a model we can read)."""
    folder = Path(folder)
    if (folder / "model_index.json").is_file():
        return "diffusers-pipeline"
    config = read_json(folder / "config.json")
    if config.get("_class_name") == "ControlNetModel":
        return "controlnet"
    if config.get("_class_name"):
        return ""  # a lone diffusers component (a UNet, a VAE)
    return "transformers" if config.get("architectures") or config.get("model_type") else ""


def tasks_for(folder: Path) -> tuple[str, ...]:
    """hgpt task types a transformers model folder serves, best first; () when unknown."""
    folder = Path(folder)
    card = read_card(folder)
    config = read_json(folder / "config.json")
    primary = TAGS.get(str(card.get("pipeline_tag") or "")) or from_config(config)
    if not primary:
        return ()
    tasks = [primary]
    if primary == "text-generation" and _has_chat_template(folder):
        tasks.append("conversational")
    if primary in ("text-classification", "zero-shot-classification") and _is_nli(config):
        tasks += ["zero-shot-classification", "text-classification"]
    return tuple(dict.fromkeys(tasks))


def from_config(config: dict) -> str | None:
    model_type = str(config.get("model_type") or "")
    for arch in config.get("architectures") or []:
        for (mtype, ending), task in SPECIAL.items():
            if mtype == model_type and arch.endswith(ending):
                return task
        if arch.endswith("ForSequenceClassification"):
            return "audio-classification" if model_type in AUDIO_TYPES else "text-classification"
        if arch.endswith(("ForConditionalGeneration", "MTModel")) and model_type in SEQ2SEQ_TYPES:
            return "translation" if model_type in ("marian", "m2m_100", "fsmt") else "text2text-generation"
        for ending, task in ARCHITECTURES:
            if arch.endswith(ending):
                return task
        if model_type in ("bert", "roberta", "mpnet", "xlm-roberta", "distilbert") and arch.endswith("Model"):
            return "sentence-similarity"
    return None


def _has_chat_template(folder: Path) -> bool:
    return bool(read_json(folder / "tokenizer_config.json").get("chat_template")) or \
        (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file()


def _is_nli(config: dict) -> bool:
    labels = {str(v).lower() for v in (config.get("id2label") or {}).values()}
    return any(label.startswith("entail") for label in labels)
