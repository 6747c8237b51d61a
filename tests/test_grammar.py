"""The plan grammar: its text, and (with llama.cpp installed) that llama.cpp accepts it."""

import pytest

from engine.plan.grammar import choice_grammar, plan_grammar
from engine.tasks import TASK_TYPES


def test_attachments_restrict_file_slots():
    g = plan_grammar([TASK_TYPES["image-classification"]], {"chelsea.png": "image"}, max_tasks=2)
    assert 'file-image ::= "\\"chelsea.png\\""' in g
    assert '"\\"<resource>-0\\""' in g  # position 1 may refer to task 0
    assert "v0-image ::= file-image\n" in g  # position 0 may not refer to anything


def test_every_task_type_gets_a_rule():
    g = plan_grammar(list(TASK_TYPES.values()), max_tasks=3)
    for name in TASK_TYPES:
        assert f'\\"task\\": \\"{name}\\"' in g


def test_llama_cpp_parses_the_grammars():
    llama_cpp = pytest.importorskip("llama_cpp")
    llama_cpp.LlamaGrammar.from_string(plan_grammar(list(TASK_TYPES.values())), verbose=False)
    llama_cpp.LlamaGrammar.from_string(choice_grammar(["a/b", "c"]), verbose=False)
