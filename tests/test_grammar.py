"""The planner's grammars: their text, and that llama.cpp really compiles and obeys them.

llama-cpp-python's ``LlamaGrammar.from_string`` only stores the text; llama.cpp parses
it when it builds a sampler, and one it cannot parse gives a null sampler that crashes
the process at the first token. So "llama.cpp accepts the grammar" is shown here by
generating under it with the real embedded controller, and the output is checked
against the grammar: every grammar the planner builds is regular (no rule refers back
to itself), so it is read into a regular expression (``gbnf_regex``) and the output
must be a prefix of a string it admits. A malformed grammar must be a clear error.
"""

from __future__ import annotations

import json
import re

import llama_cpp  # noqa: F401  (installed by scripts/setup --test: a missing one fails here)
import pytest
import regex  # partial matching: "is this a prefix of a string the pattern admits?"

from engine.plan.grammar import choice_grammar, plan_grammar, step_choices
from engine.tasks import TASK_TYPES

T = TASK_TYPES
FILES = {"chelsea.png": "image", "clip.wav": "audio"}
HAIKU = [{"role": "user", "content": "Write a haiku about the sea."}]  # nothing like the grammars' JSON


# -- the grammar's text -----------------------------------------------------------------------------
def test_attachments_restrict_file_slots():
    g = plan_grammar([T["image-classification"]], {"chelsea.png": "image"}, max_tasks=2)
    assert 'file-image ::= "\\"chelsea.png\\""' in g
    assert '"\\"<resource>-0\\""' in g  # position 1 may refer to task 0
    assert "v0-image ::= file-image\n" in g  # position 0 may not refer to anything


def test_every_task_type_gets_a_rule():
    g = plan_grammar(list(T.values()), max_tasks=3)
    for name in T:
        assert f'\\"task\\": \\"{name}\\"' in g


# -- reading a (non-recursive) GBNF grammar as a regular expression ---------------------------------
TOKEN = re.compile(r'\s+|#[^\n]*|::=|"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]|\{\d+(?:,\d*)?\}|[()|?*+]|[A-Za-z0-9_-]+')
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "[": "[", "]": "]", "/": "/"}


def _chars(text: str) -> list[str]:
    """GBNF escapes (llama.cpp's ``parse_char``) decoded to characters."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "\\":
            out.append(text[i])
            i += 1
            continue
        kind = text[i + 1]
        width = {"x": 2, "u": 4, "U": 8}.get(kind)
        if width:
            out.append(chr(int(text[i + 2:i + 2 + width], 16)))
            i += 2 + width
        else:
            out.append(ESCAPES[kind])
            i += 2
    return out


def _class(body: str) -> str:
    negate = body.startswith("^")
    chars = _chars(body[1:] if negate else body)
    parts, i = [], 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            parts.append(f"\\U{ord(chars[i]):08x}-\\U{ord(chars[i + 2]):08x}")
            i += 3
        else:
            parts.append(f"\\U{ord(chars[i]):08x}")
            i += 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def gbnf_regex(gbnf: str) -> str:
    """A regular expression admitting exactly what ``gbnf`` admits (``root`` inlined)."""
    tokens, at = [], 0
    while at < len(gbnf):
        m = TOKEN.match(gbnf, at)
        assert m, f"a token this reader does not know at {gbnf[at:at + 30]!r}"
        tokens += [m.group()] if m.group().strip() and not m.group().startswith("#") else []
        at = m.end()
    rules: dict[str, list[str]] = {}
    name = None
    for n, token in enumerate(tokens):
        if token == "::=":
            continue
        if n + 1 < len(tokens) and tokens[n + 1] == "::=":
            name = token
            assert name not in rules, f"rule {name} defined twice"
            rules[name] = []
        else:
            rules[name].append(token)
    done: dict[str, str] = {}

    def rule(name: str, path: tuple = ()) -> str:
        assert name in rules, f"undefined rule {name}"
        assert name not in path, f"rule {name} is recursive: not a regular grammar"
        if name not in done:
            done[name] = "(?:" + body(rules[name], path + (name,)) + ")"
        return done[name]

    def body(tokens: list[str], path: tuple) -> str:
        alts: list[list[list[str]]] = [[[]]]  # open groups, each a list of alternatives' pieces
        for token in tokens:
            if token == "(":
                alts.append([[]])
            elif token == ")":
                group = alts.pop()
                alts[-1][-1].append("(?:" + "|".join("".join(a) for a in group) + ")")
            elif token == "|":
                alts[-1].append([])
            elif token in "?*+" or token.startswith("{"):
                alts[-1][-1][-1] = "(?:" + alts[-1][-1][-1] + ")" + token
            elif token.startswith('"'):
                alts[-1][-1].append("(?:" + regex.escape("".join(_chars(token[1:-1]))) + ")")
            elif token.startswith("["):
                alts[-1][-1].append(_class(token[1:-1]))
            else:
                alts[-1][-1].append(rule(token, path))
        assert len(alts) == 1, "unbalanced parentheses"
        return "|".join("".join(a) for a in alts[0])

    return rule("root")


def admits(gbnf: str, text: str, *, whole: bool = False) -> bool:
    pattern = regex.compile(gbnf_regex(gbnf), regex.DOTALL)
    return pattern.fullmatch(text, partial=not whole) is not None


def test_the_grammar_reader_reads_the_planners_grammars():
    """The check below is only as good as this reader: it must take what each grammar
    allows and refuse what it does not."""
    g = plan_grammar([T["image-classification"], T["text-to-speech"]], {"chelsea.png": "image"}, max_tasks=2)
    good = [{"task": "image-classification", "id": 0, "args": {"image": "chelsea.png"}},
            {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-0"}}]
    assert admits(g, json.dumps(good), whole=True)
    assert admits(g, "[]", whole=True)
    assert admits(g, json.dumps(good)[:30]) and not admits(g, json.dumps(good)[:30], whole=True)
    for bad in ([{**good[0], "id": 1}],  # the id must be the position
                [{**good[0], "args": {"image": "dog.png"}}],  # only the attached file
                [{"task": "summarization", "id": 0, "args": {"text": "x"}}],  # not an offered task
                [good[1]],  # <resource>-0 at position 0
                good + [good[1]]):  # more than max_tasks
        assert not admits(g, json.dumps(bad)), bad

    c = choice_grammar(["a/b", "c"])
    assert admits(c, '{"id": "a/b", "reason": "it fits"}', whole=True)
    assert not admits(c, '{"id": "d"') and not admits(c, '{"id": "c", "reason": ""}', whole=True)
    assert admits(choice_grammar(["c"], with_reason=False), '{"id": "c"}', whole=True)

    s = step_choices(1, [T["text-to-speech"]], [T["image-to-text"]], FILES, ["hello"], allow_end=False).gbnf()
    assert admits(s, ', {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-0"}}', whole=True)
    assert admits(s, ', {"task": "text-to-speech", "id": 1, "args": {"text": "hello"}}', whole=True)
    assert not admits(s, ', {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-1"')
    assert not admits(s, "]")
    free = step_choices(0, [T["summarization"]], [], {}, [], free_text=True).gbnf()
    assert admits(free, '{"task": "summarization", "id": 0, "args": {"text": "any words \\"quoted\\""}}', whole=True)
    assert admits(free, "]", whole=True)
    with pytest.raises(AssertionError, match="undefined rule"):
        gbnf_regex("root ::= missing")


# -- llama.cpp compiles and obeys every grammar the planner builds -----------------------------------
def _step(position, candidates, earlier, **kw):
    return step_choices(position, [T[n] for n in candidates], [T[n] for n in earlier], **kw).gbnf()


ALL = list(T)
IMAGE_TASKS = ["image-classification", "object-detection", "image-to-text", "visual-question-answering"]
GRAMMARS = {  # name: (grammar, the reply so far, or None for a whole reply)
    "whole plan, every task type": (plan_grammar(list(T.values())), None),
    "whole plan, an attached photo": (plan_grammar([T[n] for n in IMAGE_TASKS + ["text-to-speech"]],
                                                   {"chelsea.png": "image"}, max_tasks=3, allow_empty=False), None),
    "model pick with a reason": (choice_grammar(["openai/whisper-tiny", "facebook/detr-resnet-50"]), None),
    "model pick, id only": (choice_grammar(["a/b", "c"], with_reason=False), None),
    "first step, files and free text": (_step(0, ALL, [], files=FILES, texts=["a cat on a mat"], free_text=True), "["),
    "third step, typed edges": (_step(2, ALL, ["image-to-text", "object-detection"], files=FILES, allow_end=False),
                                '[{"task": "image-to-text", "id": 0, "args": {"image": "chelsea.png"}}, '
                                '{"task": "object-detection", "id": 1, "args": {"image": "chelsea.png"}}'),
    "guided step, one clause": (_step(1, ["visual-question-answering", "text-to-speech"], ["object-detection"],
                                      files=FILES, texts=["what is it?", "hello"], allow_end=False,
                                      local={"what is it?"}),
                                '[{"task": "object-detection", "id": 0, "args": {"image": "chelsea.png"}}'),
}


@pytest.mark.parametrize("name", list(GRAMMARS))
def test_llama_cpp_compiles_and_obeys_the_grammar(llm, name):
    gbnf, reply = GRAMMARS[name]
    if reply is None:
        out = llm.complete(HAIKU, grammar=gbnf, max_tokens=24)
    else:
        out = llm.complete_after(HAIKU, reply, grammar=gbnf, max_tokens=24)
    assert len(out) >= 3, f"hardly anything was generated under the grammar: {out!r}"
    assert admits(gbnf, out), f"{name}: llama.cpp wrote {out!r}, which the grammar does not allow"


def test_a_grammar_with_one_string_gives_exactly_that_string(llm):
    """A step with one possible task (its only input the earlier output) is one string:
    generation under it writes that string and then stops."""
    choices = step_choices(1, [T["text-to-speech"]], [T["image-to-text"]], {}, [], allow_end=False)
    expected = choices.forced()
    assert expected == ', {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-0"}}'
    reply = '[{"task": "image-to-text", "id": 0, "args": {"image": "chelsea.png"}}'
    short = llm.complete_after(HAIKU, reply, grammar=choices.gbnf(), max_tokens=8)
    assert short and expected.startswith(short)
    assert llm.complete_after(HAIKU, reply, grammar=choices.gbnf(), max_tokens=80) == expected
    assert llm.complete(HAIKU, grammar='root ::= "[]"', max_tokens=20) == "[]"


@pytest.mark.parametrize("bad, reason", [
    ('root ::= ("[" "]"', "expecting ')'"),
    ('root ::= "[" task "]"', "Undefined rule identifier 'task'"),
    ('plan ::= "[]"', "no reason given"),  # no root rule
    ('root ::= [a-', "unexpected end of input"),
    ("  \n", "empty GBNF grammar"),
])
def test_a_grammar_llama_cpp_cannot_compile_is_a_clear_error(llm, bad, reason):
    """llama.cpp would crash the process at the first token; the controller says why instead."""
    with pytest.raises(ValueError, match=re.escape(reason)) as caught:
        llm.complete(HAIKU, grammar=bad, max_tokens=4)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match=re.escape(reason)):
        llm.complete_after(HAIKU, "[", grammar=bad, max_tokens=4)
    # the controller is still usable, and a good grammar still works
    assert llm.complete(HAIKU, grammar='root ::= "ok"', max_tokens=4) == "ok"


def test_the_text_a_task_works_on_is_the_quote_not_the_words_around_it():
    quote, whole = "open late", "make a shop sign that says 'open late' and read 'open late' aloud"

    def offered(name, quoted):
        return step_choices(0, [T[name]], [], {}, [quote, whole], allow_end=False, quoted=quoted).gbnf()

    speech = offered("text-to-speech", [quote])
    assert json.dumps(json.dumps(quote)) in speech and "shop sign" not in speech
    assert "shop sign" in offered("text-to-image", [quote])  # a drawing's prompt keeps the words around it
    assert "shop sign" in offered("text-to-speech", [])  # nothing quoted: every span
