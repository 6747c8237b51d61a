"""Audio for views: a waveform to draw, and the rest of a recording from a position.

``waveform`` reads a file (libsndfile through ``soundfile``: WAV, FLAC, OGG, MP3) and
folds it into ``buckets`` peaks between 0 and 1, with its length in seconds.
``tail`` writes the part from ``start`` seconds on as a WAV file, so a command-line
player that cannot seek still plays from where the user put the slider. No Qt here.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Waveform:
    peaks: list[float]  # 0..1, one per bucket
    seconds: float
    rate: int


def waveform(path: str | Path, buckets: int = 300) -> Waveform:
    """Peaks of the recording at ``path``, read a block at a time (an hour of audio
    never sits in memory whole); ``ValueError`` when it is not readable audio."""
    import numpy as np
    import soundfile

    try:
        info = soundfile.info(str(path))
        rate, frames = int(info.samplerate), int(info.frames)
        peaks = []
        if frames > 0:
            size = max(1, frames // buckets)  # frames per bucket; the remainder joins the last one
            for block in soundfile.blocks(str(path), blocksize=size, dtype="float32", always_2d=True):
                peaks.append(float(np.abs(block).max()) if block.size else 0.0)
            if len(peaks) > buckets:
                peaks[buckets - 1:] = [max(peaks[buckets - 1:])]
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise ValueError(f"{Path(path).name} is not readable audio ({exc})") from None
    peaks = (peaks + [0.0] * buckets)[:buckets]
    top = max(peaks) or 1.0
    return Waveform([round(p / top, 4) for p in peaks], frames / rate if rate else 0.0, rate)


def tail(path: str | Path, start: float, folder: str | Path | None = None) -> Path:
    """The recording from ``start`` seconds on, as a WAV in ``folder`` (a temporary one
    by default); the file itself when ``start`` is 0."""
    import soundfile

    if start <= 0:
        return Path(path)
    info = soundfile.info(str(path))
    samples, rate = soundfile.read(str(path), start=min(int(start * info.samplerate), max(0, info.frames - 1)),
                                   dtype="float32", always_2d=True)
    folder = Path(folder or Path(tempfile.gettempdir()) / "hgpt-play")
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{Path(path).stem}-from-{start:.1f}s.wav"
    soundfile.write(str(out), samples, rate)
    return out
