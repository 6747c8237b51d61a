"""Safe loading of the files experts read: images and audio.

Images: opened with Pillow under a pixel cap (a decompression bomb is refused with
a clear message, not allowed to eat memory), fully decoded so a truncated file
fails here, and converted to RGB. Audio: read with soundfile (WAV/FLAC/OGG), mixed
to mono float32 and resampled when asked. Each failure is an ``ExpertError`` naming
the file and what to do.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import ExpertError

MAX_PIXELS = 64_000_000  # 8000 x 8000


def load_image(path: str | Path, mode: str = "RGB"):
    from PIL import Image

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ExpertError(
                        f"{path.name} is {img.width}x{img.height} pixels, over the {MAX_PIXELS:,} "
                        "pixel limit; scale it down and attach it again")
                img.load()
                return img.convert(mode)
    except ExpertError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ExpertError(f"{path.name} looks like a decompression bomb (too many pixels); refused") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ExpertError(f"{path.name} is not a readable image ({exc}); attach a PNG or JPEG") from None


def load_audio(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and their sample rate (resampled if asked)."""
    path = Path(path)
    try:
        import soundfile as sf

        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except ImportError:
        data, rate = _read_wav_stdlib(path)
    except Exception as exc:  # soundfile raises its own LibsndfileError
        raise ExpertError(f"{path.name} is not readable audio ({exc}); attach a WAV, FLAC or OGG file") from None
    samples = data.mean(axis=1).astype(np.float32)
    if samples.size == 0:
        raise ExpertError(f"{path.name} holds no audio samples; attach a recording")
    if sample_rate and rate != sample_rate:
        samples = resample(samples, rate, sample_rate)
        rate = sample_rate
    return samples, rate


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Linear-interpolation resampling: good enough for speech models' front ends."""
    if rate == target:
        return samples
    n = int(round(len(samples) * target / rate))
    x_old = np.linspace(0.0, 1.0, num=len(samples), endpoint=False)
    x_new = np.linspace(0.0, 1.0, num=n, endpoint=False)
    return np.interp(x_new, x_old, samples).astype(np.float32)


def _read_wav_stdlib(path: Path) -> tuple[np.ndarray, int]:
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            frames = w.readframes(w.getnframes())
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
    except (wave.Error, EOFError, OSError) as exc:
        raise ExpertError(f"{path.name} is not a readable WAV file ({exc})") from None
    if width != 2:
        raise ExpertError(f"{path.name}: only 16-bit WAV is supported without soundfile")
    data = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels), rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> Path:
    """16-bit mono WAV, written to a temp name and renamed into place."""
    import os
    import wave

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)
    return path


def save_image(img, path: str | Path) -> Path:
    import os

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    img.save(tmp)
    os.replace(tmp, path)
    return path
