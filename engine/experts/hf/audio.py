"""Audio task runners: recordings in (read and resampled safely), text or WAV out.

Audio is read with ``engine.experts.media.load_audio`` at the rate the model's
feature extractor expects and handed to the pipeline as raw samples, so no ffmpeg
is needed. Recordings longer than 30 seconds are transcribed in 30-second chunks.

Text to speech goes through transformers' text-to-audio pipeline (VITS/MMS, Bark,
SpeechT5 …). SpeechT5 predicts a spectrogram and needs its HiFi-GAN vocoder
(``microsoft/speecht5_hifigan``, from the cache or an explicit folder) and a speaker
embedding: a 512-value x-vector file (``.npy``) given as the ``speaker_embedding``
option, else a neutral all-zero speaker.

transformers has no audio-to-audio pipeline. The one standard family it runs is
SpeechT5 voice conversion (``microsoft/speecht5_vc``): speech in, the same words in
the target speaker's voice out. Speech enhancement and source separation models on
the Hub (SpeechBrain, Asteroid) need their own libraries; asking for one says so.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ExpertError, ModelFileError
from ..base import ExpertContext, ExpertResult
from ..media import load_audio, write_wav
from .load import prepare, require_weights, torch_pipeline
from .local import find_snapshot, read_json
from .runners import runner
from .text import text_arg

VOCODER = "microsoft/speecht5_hifigan"
CHUNK_SECONDS = 30
AUDIO_TO_AUDIO_HELP = ("transformers has no audio-to-audio pipeline; hgpt runs SpeechT5 voice conversion "
                       "(microsoft/speecht5_vc with microsoft/speecht5_hifigan). Speech enhancement and "
                       "source separation models (SpeechBrain, Asteroid) need their own libraries")


def audio_arg(args: dict, task: str, rate: int):
    if not args.get("audio"):
        raise ExpertError(f"{task} needs an audio recording; attach a WAV, FLAC or OGG file")
    return load_audio(args["audio"], sample_rate=rate)


def _rate(pipe, default: int = 16000) -> int:
    fe = getattr(pipe, "feature_extractor", None)
    return int(getattr(fe, "sampling_rate", None) or default)


@runner("automatic-speech-recognition", pipeline="automatic-speech-recognition")
def speech_recognition(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    samples, rate = audio_arg(args, "automatic-speech-recognition", _rate(pipe))
    extra = {"chunk_length_s": CHUNK_SECONDS} if len(samples) > CHUNK_SECONDS * rate else {}
    if opts.get("max_new_tokens") and pipe.type != "ctc":
        extra["generate_kwargs"] = {"max_new_tokens": int(opts["max_new_tokens"])}
    out = pipe({"raw": samples, "sampling_rate": rate}, **extra)
    return ExpertResult(text=out["text"].strip(), data={"seconds": round(len(samples) / rate, 2)})


@runner("audio-classification", pipeline="audio-classification")
def audio_classification(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    samples, rate = audio_arg(args, "audio-classification", _rate(pipe))
    ranked = pipe({"raw": samples, "sampling_rate": rate}, top_k=int(opts.get("top_k", 5)))
    ranked = [{"label": r["label"], "score": float(r["score"])} for r in ranked]
    return ExpertResult(text=f"{ranked[0]['label']} ({ranked[0]['score']:.2f})", data={"labels": ranked})


def vocoder_folder(opts: dict) -> Path:
    given = opts.get("vocoder")
    if given and Path(given).is_dir():
        return Path(given)
    name = str(given or VOCODER)
    folder = find_snapshot(name)
    if folder is None:
        raise ModelFileError(f"SpeechT5 needs its HiFi-GAN vocoder {name}, which is not in the "
                             f"Hugging Face cache; get it with: hgpt models pull {name}")
    return folder


def load_vocoder(opts: dict):
    prepare()
    from transformers import SpeechT5HifiGan

    folder = vocoder_folder(opts)
    return SpeechT5HifiGan.from_pretrained(str(folder), local_files_only=True,
                                           use_safetensors=require_weights(folder) == "safetensors")


def speaker_embedding(opts: dict, size: int):
    """The ``speaker_embedding`` option (a .npy x-vector) as a 1xN tensor; zeros when not given."""
    import numpy as np
    import torch

    path = opts.get("speaker_embedding")
    if not path:
        return torch.zeros(1, size)
    try:
        vec = np.load(path, allow_pickle=False).astype(np.float32).reshape(1, -1)
    except (OSError, ValueError) as exc:
        raise ExpertError(f"speaker embedding {path} is not a .npy array ({exc}); give a 512-value x-vector") from None
    if vec.shape[1] != size:
        raise ExpertError(f"speaker embedding {path} has {vec.shape[1]} values; this model needs {size}")
    return torch.from_numpy(vec)


def load_tts(folder: Path, opts: dict):
    if read_json(folder / "config.json").get("model_type") == "speecht5":
        return torch_pipeline("text-to-speech", folder, vocoder=load_vocoder(opts))
    return torch_pipeline("text-to-speech", folder)


@runner("text-to-speech", load=load_tts)
def text_to_speech(pipe, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    text = text_arg(args, task="text-to-speech")
    extra = {}
    if pipe.model.config.model_type == "speecht5":
        extra["forward_params"] = {"speaker_embeddings": speaker_embedding(opts, pipe.model.config.speaker_embedding_dim)}
    out = pipe(text, **extra)
    samples = out["audio"].reshape(-1)
    if samples.size == 0:
        raise ExpertError("the speech model produced no audio for this text; try a longer sentence")
    path = write_wav(ctx.output_path("speech", ".wav"), samples, int(out["sampling_rate"]))
    seconds = samples.size / int(out["sampling_rate"])
    return ExpertResult(text=f"{seconds:.1f} s of speech", files=[path],
                        data={"sampling_rate": int(out["sampling_rate"]), "samples": int(samples.size)})


def load_voice_conversion(folder: Path, opts: dict):
    config = read_json(folder / "config.json")
    if "SpeechT5ForSpeechToSpeech" not in (config.get("architectures") or []):
        raise ExpertError(f"{folder.name}: {AUDIO_TO_AUDIO_HELP}")
    prepare()
    from transformers import SpeechT5FeatureExtractor, SpeechT5ForSpeechToSpeech

    model = SpeechT5ForSpeechToSpeech.from_pretrained(
        str(folder), local_files_only=True, use_safetensors=require_weights(folder) == "safetensors")
    return model.eval(), SpeechT5FeatureExtractor.from_pretrained(str(folder)), load_vocoder(opts)


@runner("audio-to-audio", load=load_voice_conversion)
def audio_to_audio(loaded, args: dict, ctx: ExpertContext, opts: dict) -> ExpertResult:
    import torch

    model, features, vocoder = loaded
    samples, rate = audio_arg(args, "audio-to-audio", int(features.sampling_rate))
    inputs = features(audio=samples, sampling_rate=rate, return_tensors="pt")
    speaker = speaker_embedding(opts, model.config.speaker_embedding_dim)
    with torch.inference_mode():
        speech = model.generate_speech(inputs["input_values"], speaker, vocoder=vocoder,
                                       maxlenratio=float(opts.get("maxlenratio", 2.0)))
    out = speech.float().cpu().numpy().reshape(-1)
    if out.size == 0:
        raise ExpertError("voice conversion produced no audio; try a longer recording")
    out_rate = int(vocoder.config.sampling_rate)
    path = write_wav(ctx.output_path("converted", ".wav"), out, out_rate)
    return ExpertResult(text=f"{out.size / out_rate:.1f} s of converted speech", files=[path],
                        data={"sampling_rate": out_rate, "samples": int(out.size)})
