"""Real speech experts: the Piper voice speaks known sentences, Whisper (and the
PocketSphinx fallback) transcribe that speech back; unreadable audio is refused."""

from __future__ import annotations

import re
import wave

import numpy as np
import pytest

from _experts import loaded
from engine.errors import ExpertError
from engine.experts.base import ExpertContext
from engine.experts.media import load_audio

pytestmark = pytest.mark.slow

SENTENCE = "The cat is on the mat."
LONGER = "Hello, world! Is it raining today? Yes: bring an umbrella; it is wet outside."


@pytest.fixture(scope="module")
def voice():
    from engine.experts.piper import PiperJoe

    return loaded(PiperJoe)


@pytest.fixture(scope="module")
def whisper():
    from engine.experts.whisper import WhisperTinyEn

    return loaded(WhisperTinyEn)


@pytest.fixture
def ctx(tmp_path):
    return ExpertContext(tmp_path / "run", task_id=1)


@pytest.fixture(scope="module")
def spoken(voice, tmp_path_factory):
    """WAV files of SENTENCE and LONGER, spoken once for the module."""
    out = {}
    for name, text in (("short", SENTENCE), ("long", LONGER)):
        ctx = ExpertContext(tmp_path_factory.mktemp(name), task_id=1)
        out[name] = voice("text-to-speech", {"text": text}, ctx).files[0]
    return out


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_recall(reference: str, heard: str) -> float:
    ref, got = words(reference), set(words(heard))
    return sum(w in got for w in ref) / len(ref)


def test_tts_writes_a_plausible_22khz_wav(spoken):
    with wave.open(str(spoken["short"])) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (22050, 2, 1)
        seconds = w.getnframes() / w.getframerate()
    assert 0.5 < seconds < 6
    samples, _ = load_audio(spoken["short"])
    assert np.sqrt(np.mean(samples ** 2)) > 0.02  # not silence
    assert np.abs(samples).max() <= 1.0


def test_tts_longer_text_is_chunked_into_sentences(spoken, voice):
    with wave.open(str(spoken["long"])) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 3 < seconds < 15
    from engine.experts.piper import phonemize, sentences

    assert len(sentences(LONGER)) == 3
    ipa = phonemize("Hello, world!", voice.config["espeak"]["voice"])
    assert ipa.startswith("həlˈoʊ, ") and ipa.endswith("!")


def test_tts_output_goes_to_the_run_folder(voice, ctx):
    result = voice("text-to-speech", {"text": "Yes."}, ctx)
    assert result.files[0].parent == ctx.run_dir and result.files[0].name.startswith("1-")
    assert result.data["sample_rate"] == 22050


def test_tts_without_words_fails_clearly(voice, ctx):
    with pytest.raises(ExpertError, match="no text|nothing to say"):
        voice("text-to-speech", {"text": "   "}, ctx)


def test_whisper_transcribes_piper_speech(whisper, spoken, ctx):
    result = whisper("automatic-speech-recognition", {"audio": spoken["short"]}, ctx)
    assert word_recall(SENTENCE, result.text) >= 0.8, result.text
    assert result.data["device"] == "cpu" and result.data["segments"]


def test_whisper_transcribes_several_sentences(whisper, spoken, ctx):
    reports = []
    ctx.report = lambda done, total, unit: reports.append((done, total, unit))
    result = whisper("automatic-speech-recognition", {"audio": spoken["long"]}, ctx)
    assert word_recall(LONGER, result.text) >= 0.7, result.text
    # progress by segment: seconds of audio heard so far, of the recording's length
    assert reports and {unit for *_, unit in reports} == {"s"}
    assert all(total == result.data["seconds"] or abs(total - result.data["seconds"]) < 0.01
               for _, total, _ in reports)
    assert [d for d, *_ in reports] == sorted(d for d, *_ in reports) and reports[-1][0] <= reports[-1][1]


def test_whisper_on_long_audio_uses_vad(whisper, spoken, tmp_path, ctx):
    """40 s: the sentence, 35 s of silence, the sentence again. VAD drops the silence."""
    from engine.experts.media import write_wav

    speech, rate = load_audio(spoken["short"], 16000)
    audio = np.concatenate([speech, np.zeros(35 * rate, np.float32), speech])
    path = write_wav(tmp_path / "long.wav", audio, rate)
    result = whisper("automatic-speech-recognition", {"audio": path}, ctx)
    assert result.data["seconds"] > 30
    assert words(result.text).count("cat") == 2, result.text


def test_pocketsphinx_fallback_hears_some_words(spoken, ctx):
    from engine.experts.sphinx import PocketSphinxEnUs

    sphinx = loaded(PocketSphinxEnUs)
    result = sphinx("automatic-speech-recognition", {"audio": spoken["short"]}, ctx)
    assert word_recall(SENTENCE, result.text) >= 0.5, result.text
    sphinx.unload()
    assert not sphinx.loaded


@pytest.mark.parametrize("content, message", [
    (b"", "not readable audio"),
    (b"this is text, not sound", "not readable audio"),
])
def test_bad_audio_gives_one_clear_line(whisper, tmp_path, ctx, content, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(ExpertError) as info:
        whisper("automatic-speech-recognition", {"audio": path}, ctx)
    assert message in str(info.value) and "bad.wav" in str(info.value) and "\n" not in str(info.value)
