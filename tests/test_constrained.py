"""Constrained greedy decoding that asks the grammar only about the token it would
take gives exactly the reply llama-cpp-python's own grammar sampling gives (the real
SmolLM2 through llama.cpp)."""

from __future__ import annotations

import pytest

from engine.controller.constrained import greedy
from engine.plan.grammar import choice_grammar, plan_grammar, step_choices
from engine.tasks import TASK_TYPES as T

PROMPT = [{"role": "system", "content": "You plan tasks as JSON."},
          {"role": "user", "content": "Transcribe meeting.wav, then summarize it and read the summary aloud."}]


def reference(llm, tokens, gbnf, max_tokens):
    out = llm.llama.create_completion(prompt=tokens, temperature=0.0, top_k=1, max_tokens=max_tokens,
                                      grammar=llm._grammar(gbnf))
    return out["choices"][0]["text"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["whole plan", "model pick", "one step"])
def test_fast_constrained_decoding_matches_llama_cpp_python(llm, name):
    gbnf = {
        "whole plan": plan_grammar(list(T.values()), {"meeting.wav": "audio"}, 3),
        "model pick": choice_grammar(["openai/whisper-tiny.en", "cmusphinx/pocketsphinx-en-us"]),
        "one step": step_choices(0, [T["automatic-speech-recognition"], T["audio-classification"]], [],
                                 {"meeting.wav": "audio"}, []).gbnf(),
    }[name]
    with llm._lock:
        tokens, _ = llm.render(PROMPT)
        expected = reference(llm, tokens, gbnf, 40)
        got = greedy(llm.llama, tokens, gbnf, 40)
    assert got == expected and got


@pytest.mark.slow
def test_cancel_stops_constrained_decoding(llm):
    from engine.controller.base import Controller  # noqa: F401
    from engine import CancelToken

    cancel = CancelToken()
    cancel.cancel()
    with llm._lock:
        tokens, _ = llm.render(PROMPT)
        assert greedy(llm.llama, tokens, plan_grammar(list(T.values()), {}, 2), 40, cancel=cancel) == ""
