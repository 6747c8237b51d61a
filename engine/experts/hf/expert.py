"""``TransformersExpert``: one standard Hugging Face model, run from local files.

An instance names a model (a Hub id found in the local cache, or an explicit
folder) and the task types it serves. Nothing is loaded until the first task runs;
``missing()`` only looks at files and installed packages, so the catalog can ask it
for hundreds of models cheaply. Each task type is served by its runner
(``engine.experts.hf.runners``); when one model serves two task types (a chat model
also generates text, an NLI model also does zero-shot classification) the second
pipeline reuses the first one's loaded weights.

Options tune a runner without subclassing: ``max_new_tokens``, ``threshold`` (object
detection), ``labels`` (zero-shot), ``vocoder`` and ``speaker_embedding`` (SpeechT5),
``src_lang``/``tgt_lang`` (multilingual translation), ``top_k``.

``onnx_dir`` is the folder ONNX exports are kept in (``discover.register`` gives the
data folder's ``onnx``, from ``registry.settings``); without one an export goes to a
temporary folder for this process (``onnx.scratch_dir``). The expert never looks up
the data folder itself.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any, Sequence

from ...errors import ExpertError, HgptError
from ..base import Expert, ExpertContext, ExpertResult
from . import load, runners
from .local import find_snapshot, folder_size_mb, model_folder, read_json, weight_format

PACKAGES = ("torch", "transformers")


class TransformersExpert(Expert):
    runtime = "transformers"
    licence = ""

    def __init__(self, model_id: str, task: str | Sequence[str], revision: str | None = None,
                 path: str | Path | None = None, *, backend: str | None = None,
                 options: dict[str, Any] | None = None, description: str = "",
                 licence: str = "", downloads: int = 0, likes: int = 0, onnx_dir: str | Path | None = None):
        super().__init__()
        self.model_id = model_id
        self.tasks = (task,) if isinstance(task, str) else tuple(task)
        self.revision, self.path = revision, (Path(path) if path else None)
        self.backend = backend  # None: HGPT_EXPERT_BACKEND (default "auto"), read when loading
        self.onnx_dir = Path(onnx_dir) if onnx_dir else None  # None: a temporary folder
        self.options = dict(options or {})
        self.description = description or f"{model_id} ({', '.join(self.tasks)}) through transformers"
        self.licence, self.downloads, self.likes = licence, downloads, likes
        self.source = f"dir:{self.path}" if self.path else f"hf-cache:{model_id}@{revision or 'main'}"
        self.backends: dict[str, str] = {}  # task -> "torch" | "onnxruntime", once loaded
        self._pipes: dict[str, Any] = {}
        self._folder: Path | None = None
        self._pipes_lock = threading.Lock()

    # -- cheap checks ---------------------------------------------------------------
    def folder(self) -> Path | None:
        if self.path is not None:
            return self.path if self.path.is_dir() else None
        return find_snapshot(self.model_id, self.revision)

    def missing(self) -> str | None:
        for task in self.tasks:
            if task in runners.UNSUPPORTED:
                return f"{task}: {runners.UNSUPPORTED[task]}"
        absent = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
        if absent:
            return f"{' and '.join(absent)} not installed. Install with: pip install 'hgpt[experts]'"
        try:
            folder = model_folder(self.model_id, self.revision, self.path)
        except OSError as exc:  # ModelFileError, a FileNotFoundError, says how to get the model
            return str(exc)
        if weight_format(folder) is None:
            return f"{folder} has no PyTorch weights (model.safetensors or pytorch_model.bin)"
        return self._missing_parts(folder)

    def _missing_parts(self, folder: Path) -> str | None:
        """What else a model needs: SpeechT5's vocoder and tokenizer library, DETR's timm
        backbone; and for audio-to-audio, the one family transformers runs."""
        config = read_json(folder / "config.json")
        if "audio-to-audio" in self.tasks and "SpeechT5ForSpeechToSpeech" not in (config.get("architectures") or []):
            from .audio import AUDIO_TO_AUDIO_HELP

            return AUDIO_TO_AUDIO_HELP
        if config.get("use_timm_backbone") and importlib.util.find_spec("timm") is None:
            return f"{self.model_id} uses a timm backbone. Install it with: pip install timm"
        if "SpeechT5ForTextToSpeech" in (config.get("architectures") or []) and \
                importlib.util.find_spec("sentencepiece") is None:
            return "SpeechT5's tokenizer needs sentencepiece. Install it with: pip install sentencepiece"
        if config.get("model_type") == "speecht5":
            vocoder = self.options.get("vocoder") or "microsoft/speecht5_hifigan"
            if not Path(str(vocoder)).is_dir() and find_snapshot(str(vocoder)) is None:
                return f"SpeechT5 needs its vocoder; get it with: hgpt models pull {vocoder}"
        return None

    def footprint_mb(self) -> float:
        folder = self.folder()
        return folder_size_mb(folder) * 1.2 if folder else 0.0

    def card(self) -> dict[str, Any]:
        folder = self.folder()
        return super().card() | {"path": str(folder) if folder else None,
                                 "revision": folder.name if folder and self.path is None else self.revision}

    # -- loading and running --------------------------------------------------------
    def setup(self) -> None:
        self._folder = model_folder(self.model_id, self.revision, self.path)
        self.pipeline_for(self.tasks[0])

    def pipeline_for(self, task: str) -> Any:
        """The loaded pipeline (or custom loaded object) serving ``task``, loading it once."""
        with self._pipes_lock:
            if task not in self._pipes:
                try:
                    self._pipes[task] = self._load(task)
                except HgptError:
                    raise
                except Exception as exc:  # transformers' own errors run to many lines
                    raise ExpertError(f"{self.model_id} could not be loaded for {task}: {load_error(exc)}") from exc
            return self._pipes[task]

    def _load(self, task: str) -> Any:
        runner = runners.get(task)
        if runner.load is not None:
            self.backends[task] = "torch"
            return runner.load(self._folder, self.options)
        shared = next((t for t in self._pipes if runners.get(t).load is None), None)
        if shared is not None:
            self.backends[task] = self.backends[shared]
            return load.share(runner.pipeline, self._pipes[shared])
        backend = self.backend or load.default_backend()
        pipe, used = load.build(runner.pipeline, self._folder, runner.onnx, self.model_id, backend,
                                onnx_dir=self.onnx_dir)
        self.backends[task] = used
        return pipe

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if task not in self.tasks:
            raise ExpertError(f"{self.model_id} does not do {task}; it does {', '.join(self.tasks)}")
        loaded = self.pipeline_for(task)
        try:
            result = runners.get(task).run(loaded, args, ctx, self.options)
        except HgptError:
            raise
        except Exception as exc:  # the model failed on this input: recorded, the run goes on
            raise ExpertError(f"{self.model_id} failed on {task}: {one_line(exc)}") from exc
        result.data.setdefault("backend", self.backends.get(task, "torch"))
        return result

    def teardown(self) -> None:
        import gc

        self._pipes.clear()
        self.backends.clear()
        gc.collect()


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, with its type when the message is empty."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def load_error(exc: BaseException) -> str:
    if "trust_remote_code" in str(exc):
        return ("it needs its own Python code (trust_remote_code), which hgpt never runs; "
                "choose a model transformers supports natively")
    return one_line(exc)
