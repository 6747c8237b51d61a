"""Fallback speech recognition with CMU PocketSphinx (US English).

PocketSphinx is a classic HMM recognizer whose wheel carries its acoustic model,
language model and dictionary, so it needs nothing else. It is far less accurate
than Whisper and ranks below it (fewer downloads), but it is small, fast and
BSD-licensed: it keeps speech recognition available when faster-whisper or the
Whisper pack is missing. Audio is read by ``media.load_audio`` at 16 kHz and fed
as 16-bit PCM in one utterance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult
from .media import load_audio
from .packs import Pin, missing_packages, pack_dir, size_mb

PIN = Pin("pocketsphinx-en-us")  # its models.lock entry: the source and the pip requirement
SAMPLE_RATE = 16_000
FRAME_RATE = 100  # PocketSphinx's default: 10 ms frames


class PocketSphinxEnUs(Expert):
    model_id = "cmusphinx/pocketsphinx-en-us"
    tasks = ("automatic-speech-recognition",)
    runtime = "pocketsphinx"
    licence = "BSD-2-Clause"
    description = ("CMU PocketSphinx with its US English model: small, fast, offline speech "
                   "recognition, less accurate than Whisper; a fallback.")
    downloads = 0  # not a Hub model
    likes = 0
    source = PIN

    def missing(self) -> str | None:
        return missing_packages({"pocketsphinx": PIN})

    def footprint_mb(self) -> float:
        folder = pack_dir("pocketsphinx")
        return size_mb(folder / "model" / "en-us" if folder else None)

    def setup(self) -> None:
        from pocketsphinx import Decoder

        import threading

        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
        self.decoding = threading.Lock()  # one decoder: utterances must not interleave

    def teardown(self) -> None:
        self.decoder = self.decoding = None

    def transcribe(self, samples: np.ndarray) -> tuple[str, list[dict]]:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        with self.decoding:
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hyp = self.decoder.hyp()
            words = [{"word": s.word, "start": s.start_frame / FRAME_RATE, "end": s.end_frame / FRAME_RATE}
                     for s in self.decoder.seg() if not s.word.startswith(("<", "["))]
        return (hyp.hypstr.strip() if hyp else ""), words

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if "audio" not in args:
            raise ExpertError("speech recognition needs an audio file; attach a WAV or FLAC")
        samples, _ = load_audio(args["audio"], SAMPLE_RATE)
        text, words = self.transcribe(samples)
        return ExpertResult(text=text or "(no speech heard)",
                            data={"words": words, "seconds": round(len(samples) / SAMPLE_RATE, 2)})


EXPERTS = [PocketSphinxEnUs]
