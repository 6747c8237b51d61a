"""A prompt-state cache for llama.cpp that holds what its capacity says.

llama-cpp-python's ``LlamaRAMCache`` keeps, per cached prompt, the context state
*and* a copy of the logits of every prompt token (``n_tokens x n_vocab`` floats:
about 200 KB a token for SmolLM2's 49k vocabulary, up to 100 MB an entry), but its
capacity counts only the context state. Under a stream of different requests the
cache therefore grew far past its limit: ``scripts/load_test`` measured about
+20 MB of resident memory per request, and ~1.2 GB more than with the cache off after 30.

``BoundedRAMCache`` fixes both sides. Without ``logits_all`` the old rows are never
read again (a state restored from the cache is marked for re-evaluation, which
refreshes the logits before sampling), so only the last row is kept; and the size
it enforces counts every array an entry holds. A cache hit behaves as before.
"""

from __future__ import annotations

from typing import Sequence

from llama_cpp import LlamaRAMCache


def state_bytes(state) -> int:
    """What one cached state really occupies: context state, logits and token ids."""
    total = int(getattr(state, "llama_state_size", 0) or 0)
    for name in ("scores", "input_ids"):
        array = getattr(state, name, None)
        total += int(getattr(array, "nbytes", 0) or 0)
    return total


class BoundedRAMCache(LlamaRAMCache):
    """``LlamaRAMCache`` whose capacity is real bytes; keeps one logits row unless asked."""

    def __init__(self, capacity_bytes: int, *, keep_all_logits: bool = False):
        super().__init__(capacity_bytes)
        self.keep_all_logits = keep_all_logits

    @property
    def cache_size(self) -> int:
        return sum(state_bytes(s) for s in self.cache_state.values())

    def __setitem__(self, key: Sequence[int], value) -> None:
        scores = getattr(value, "scores", None)
        if not self.keep_all_logits and scores is not None and getattr(scores, "ndim", 0) == 2 and len(scores) > 1:
            value.scores = scores[-1:].copy()
        super().__setitem__(key, value)


# -- prompt states on disk -------------------------------------------------------------------
STATE_FILES_KEPT = 8  # per folder: the newest states, the rest deleted


def save_state_file(path, state) -> None:
    """``state`` (a ``LlamaState``) as an ``.npz`` of plain arrays: no pickle, so a file
    in the data folder cannot run code when it is read back. Written atomically."""
    import os
    from pathlib import Path

    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scores = np.asarray(state.scores, dtype=np.float32)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, input_ids=np.asarray(state.input_ids, dtype=np.int32), scores=scores[-1:],
                 n_tokens=np.int64(state.n_tokens), seed=np.int64(state.seed),
                 llama_state=np.frombuffer(state.llama_state, dtype=np.uint8))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    kept = sorted(path.parent.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[STATE_FILES_KEPT:]:
        old.unlink(missing_ok=True)


def load_state_file(path):
    """The ``LlamaState`` saved at ``path``, or None when it is missing or unreadable."""
    import numpy as np
    from llama_cpp.llama import LlamaState

    try:
        with np.load(path, allow_pickle=False) as data:
            blob = data["llama_state"].tobytes()
            return LlamaState(input_ids=data["input_ids"].astype(np.intc), scores=data["scores"].astype(np.single),
                              n_tokens=int(data["n_tokens"]), llama_state=blob, llama_state_size=len(blob),
                              seed=int(data["seed"]))
    except (OSError, ValueError, KeyError):
        return None
