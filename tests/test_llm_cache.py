"""The controller's prompt cache holds what its capacity says (real SmolLM2 through
llama.cpp): entries keep one logits row, the size counts every array, eviction keeps it
under the limit, and a cache hit gives the same reply as a cold prompt."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def fresh_cache(llm):
    from engine.controller.cache import BoundedRAMCache

    llama = llm.llama
    before = llama.cache
    cache = BoundedRAMCache(1 << 30)
    llama.set_cache(cache)
    yield cache
    llama.set_cache(before)


def ask(llm, n: int) -> str:
    return llm.complete_after([{"role": "user", "content": f"Name {n} colours."}], "", max_tokens=6)


def test_entries_keep_one_logits_row_and_the_size_counts_every_array(llm, fresh_cache):
    from engine.controller.cache import state_bytes

    ask(llm, 2)
    [state] = fresh_cache.cache_state.values()
    assert state.scores.shape[0] == 1
    assert fresh_cache.cache_size == state_bytes(state) > state.llama_state_size


def test_the_cache_evicts_to_stay_under_its_capacity(llm, fresh_cache):
    ask(llm, 2)
    one = fresh_cache.cache_size
    fresh_cache.capacity_bytes = int(2.5 * one)
    for n in range(3, 8):
        ask(llm, n)
    assert 1 <= len(fresh_cache.cache_state) <= 3
    assert fresh_cache.cache_size <= fresh_cache.capacity_bytes


def test_a_cache_hit_replies_like_a_cold_prompt(llm, fresh_cache):
    cold = ask(llm, 4)
    ask(llm, 9)  # another prompt in between, so the next one is restored from the cache
    assert ask(llm, 4) == cold
