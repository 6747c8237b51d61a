"""The planning prompt's fixed start is evaluated once and kept on disk: a fresh
controller restores it instead of evaluating it, and plans exactly as a cold one
(the real SmolLM2 through llama.cpp)."""

from __future__ import annotations

import pytest

from engine.controller.llama import LlamaController
from engine.plan.options import PlanningOptions
from engine.plan.planner import default_planner

REQUEST = ("Translate 'Good night' into French, please.", {})


def _planner(controller):
    # rails and draft both ask the controller; the draft makes every request use the fixed start
    return default_planner(controller, options=PlanningOptions(draft="auto"))


@pytest.mark.slow
def test_a_fresh_controller_restores_the_fixed_start_and_plans_the_same(tmp_path):
    states = tmp_path / "states"
    first = LlamaController(n_threads=2, state_dir=states)
    planned = _planner(first).plan(*REQUEST)
    assert list(first.primed.values()) == ["evaluated"]
    saved = list(states.rglob("*.npz"))
    assert len(saved) == 1 and saved[0].stat().st_size > 100_000

    fresh = LlamaController(n_threads=2, state_dir=states)
    restored = _planner(fresh).plan(*REQUEST)
    assert list(fresh.primed.values()) == ["disk"]

    cold = LlamaController(n_threads=2, prefix_cache_mb=0)
    from_scratch = _planner(cold).plan(*REQUEST)
    assert cold.primed == {}
    assert restored.plan.to_list() == planned.plan.to_list() == from_scratch.plan.to_list()
    assert restored.trace.candidates == from_scratch.trace.candidates


def test_a_damaged_state_file_is_evaluated_again(tmp_path):
    from engine.controller.cache import load_state_file

    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not an npz")
    assert load_state_file(bad) is None
    assert load_state_file(tmp_path / "missing.npz") is None
