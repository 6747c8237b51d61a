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
