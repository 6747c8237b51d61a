"""GBNF grammars that constrain the controller's output to valid plans and picks.

Two plan grammars. The whole-plan grammar (``plan_grammar``, for controllers that
write a plan in one call) is unrolled by position: the task at position ``i`` must
have ``"id": i`` and may refer only to ``<resource>-j`` for ``j < i``; task names
come only from the allowed list and each task's argument keys are exactly its
slots; a file slot accepts the names of the user's files of that modality, so the
controller cannot invent a file name; ``[]`` means "answer directly". The
per-step choices (``step_choices``, for a plan written one task per call) know the
tasks already written, so they also type the edges: ``<resource>-j`` only where
task *j*'s output fits the slot. They are kept as data before they become GBNF,
so the planner can tell when only one continuation is possible and skip the call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Collection, Mapping, Sequence

from ..tasks import MODALITIES, TaskType, norm_name
from ..text import is_question, options, quoted_passages
from .options import PlanningOptions

STRING = r'"\"" ( [^"\\\x7F\x00-\x1F] | "\\" ["\\/bfnrt] ){1,300} "\""'


def _lit(text: str) -> str:
    return json.dumps(text)


def _rule_name(*parts) -> str:
    return "-".join(norm_name(p) for p in parts)


def plan_grammar(
    task_types: Sequence[TaskType],
    attachments: Mapping[str, str] | None = None,
    max_tasks: int = PlanningOptions.max_tasks,
    allow_empty: bool = True,
) -> str:
    """GBNF for a whole plan of at most ``max_tasks`` tasks over ``task_types``, in the
    form the planner's demonstrations use: ``{"task", "id", "args"}`` (dependencies
    are rebuilt from the resources)."""
    attachments = dict(attachments or {})
    names = [t.name for t in task_types]
    if not names:
        return 'root ::= "[]"'
    lines = [f"str ::= {STRING}"]
    for modality in ("image", "audio", "video"):
        files = [n for n, m in attachments.items() if m == modality]
        if files:
            alts = " | ".join(_json_lit(f) for f in files)
            lines.append(f"file-{modality} ::= {alts}")
        else:
            lines.append(f"file-{modality} ::= str")
    lines.append("file-text ::= str")
    for i in range(max_tasks):
        refs = " | ".join(_lit(f'"<resource>-{j}"') for j in range(i))
        for modality in ("text", "image", "audio", "video"):
            value = f"file-{modality}" + (f" | {refs}" if refs else "")
            lines.append(f"v{i}-{modality} ::= {value}")
        alts = []
        for t in task_types:
            rule = _rule_name("t", i, t.name)
            alts.append(rule)
            slots = [_lit((", " if n else "") + _lit(k) + ": ") + f" v{i}-{m if m in MODALITIES else 'text'}"
                     for n, (k, m) in enumerate(t.args.items())]
            head = _lit('{"task": ' + _lit(t.name) + f', "id": {i}, "args": {{')
            lines.append(f"{rule} ::= {head} {' '.join(slots)} {_lit('}}')}")
        lines.append(f"t{i} ::= " + " | ".join(alts))
    tail = ""
    for i in reversed(range(1, max_tasks)):
        tail = f'(", " t{i} {tail})?'
    body = f'"[" t0 {tail} "]"'
    root = f'root ::= "[]" | {body}' if allow_empty else f"root ::= {body}"
    return "\n".join([root] + lines) + "\n"


def plan_schema(task_types: Sequence[TaskType], max_tasks: int = PlanningOptions.max_tasks) -> dict:
    """A JSON schema of the same plan shape, for servers that take ``response_format``."""
    return {
        "type": "array", "maxItems": max_tasks,
        "items": {"type": "object", "additionalProperties": False, "required": ["task", "id", "args"],
                  "properties": {"task": {"enum": [t.name for t in task_types]},
                                 "id": {"type": "integer", "minimum": 0},
                                 "args": {"type": "object", "additionalProperties": {"type": "string"}}}},
    }


def _json_lit(text: str) -> str:
    """GBNF literal matching ``text`` written as a JSON string (non-ASCII kept as is)."""
    return _lit(json.dumps(text, ensure_ascii=False))


FREE_CHARS = 160  # the longest free string
FREE_TEXT = r'"\"" ( [^"\\\x7F\x00-\x1F] | "\\" ["\\/bfnrt] ){1,' + str(FREE_CHARS) + r'} "\""'
FREE = None  # a value choice that admits any short string


@dataclass
class StepChoices:
    """What the next piece of a plan written one task at a time may be.

    Each alternative is a list of pieces: a literal string, or a list of JSON values
    to choose from (``FREE`` meaning any short string). ``gbnf()`` renders it as a
    grammar; ``forced()`` gives the one possible text when there is no choice at all,
    so the controller need not be asked.
    """

    alternatives: list[list] = field(default_factory=list)

    def first(self) -> str | None:
        """The first alternative with the first value of every slot (``FREE`` as "…"):
        what the rails alone would write, for measuring them without a controller."""
        if not self.alternatives:
            return None
        return "".join(p if isinstance(p, str) else json.dumps("…" if p[0] is FREE else p[0], ensure_ascii=False)
                       for p in self.alternatives[0])

    def longest(self) -> int:
        """The most characters any alternative can write: a bound on its tokens, so a step
        given that many tokens is never cut off inside a long quoted text."""
        def size(piece) -> int:
            if isinstance(piece, str):
                return len(piece)
            return max(FREE_CHARS + 2 if v is FREE else len(json.dumps(v, ensure_ascii=False)) for v in piece)
        return max((sum(size(p) for p in alt) for alt in self.alternatives), default=0)

    def forced(self) -> str | None:
        if len(self.alternatives) != 1:
            return None
        pieces = []
        for piece in self.alternatives[0]:
            if isinstance(piece, str):
                pieces.append(piece)
            elif len(piece) == 1 and piece[0] is not FREE:
                pieces.append(json.dumps(piece[0], ensure_ascii=False))
            else:
                return None
        return "".join(pieces)

    def gbnf(self) -> str | None:
        if not self.alternatives:
            return None
        rendered = [" ".join(self._piece(p) for p in alt) for alt in self.alternatives]
        rules = ["root ::= " + " | ".join(rendered)]
        if any(FREE in p for alt in self.alternatives for p in alt if isinstance(p, list)):
            rules.append(f"free ::= {FREE_TEXT}")
        return "\n".join(rules) + "\n"

    @staticmethod
    def _piece(piece) -> str:
        if isinstance(piece, str):
            return _lit(piece)
        return "(" + " | ".join("free" if v is FREE else _json_lit(v) for v in piece) + ")"


def step_choices(
    position: int,
    candidates: Sequence[TaskType],
    earlier: Sequence[TaskType],
    files: Mapping[str, str] | None = None,
    texts: Sequence[str] = (),
    allow_end: bool = True,
    free_text: bool = False,
    edge_ok=None,
    local: Collection[str] | None = None,
    spelled: Collection[str] = (),
    quoted: Collection[str] = (),
) -> StepChoices:
    """The choices for one more task of a plan written one task at a time.

    The reply so far ends with ``[`` (position 0) or with task ``position - 1``'s
    ``}``; what may follow is ``]`` (when ``allow_end``) or the separator and one
    task among ``candidates``. Typed edges: a slot of modality *m* may name
    ``<resource>-j`` only when task *j* (``earlier[j]``) produces *m* and
    ``edge_ok(earlier[j], candidate)`` holds. Where such an output exists the slot
    takes it — for a guided step (``local`` given) only the latest one, as a request
    read clause by clause is a chain — or a file or text in ``local`` (those the
    clause this step is for spells out; one of ``spelled``, the files it names by file name,
    before the output); elsewhere the slot takes one of ``files`` of its modality, or for
    text one of ``texts`` (spans of the request) or, with ``free_text``, any short
    string; the text a task works on is the words the user ``quoted`` when it may be, not
    a span that holds them (``_quoted_alone``). A candidate with a slot nothing can fill is left out.
    """
    files = dict(files or {})
    edge_ok = edge_ok or (lambda source, target: True)
    choices = StepChoices()
    for ttype in candidates:
        head = (('{"task": ' if not position else ', {"task": ') + json.dumps(ttype.name)
                + f', "id": {position}, "args": {{')
        slots = {key: _quoted_alone(ttype, key, quoted, _question_or_passage(
                     ttype, key, _lists_to_list_slots(key, quoted, _another_first(key, _slot_values(
                         ttype, modality, earlier, files, texts, free_text, edge_ok, local, spelled)))))
                 for key, modality in ttype.args.items()}
        if not all(slots.values()):
            continue
        for assignment in (_shared_ref_assignments(slots) if local is not None else [slots]):
            pieces: list = [head]
            for n, (key, values) in enumerate(assignment.items()):
                pieces += [(", " if n else "") + json.dumps(key) + ": ", values]
            choices.alternatives.append(pieces + ["}}"])
    if allow_end:
        choices.alternatives.append(["]"])
    return choices


def _another_first(key: str, values: list) -> list:
    """A numbered slot ("text2": the second of two texts to compare) offers first the
    value its number points to, so two slots of one kind do not both take the first."""
    match = re.fullmatch(r"[a-z]+(\d)", key)
    n = int(match.group(1)) - 1 if match else 0
    return [values[n], *values[:n], *values[n + 1:]] if 0 < n < len(values) else values


LIST_SLOTS = ("labels",)  # slots that take a list of options the user names
PASSAGE_SLOT = "context"  # a task with this slot answers a question (its other text slot) from a passage


def passage_answerer(task_types) -> TaskType | None:
    """The task type that answers a question from a passage of text (``PASSAGE_SLOT``)."""
    return next((t for t in task_types if PASSAGE_SLOT in t.args and set(t.args.values()) == {"text"}), None)


def _question_or_passage(ttype, key: str, values: list) -> list:
    """Question answering's question slot offers the questions the request asks first (a
    clause that also quotes its passage last); its passage slot offers the texts that are not
    questions first."""
    if PASSAGE_SLOT not in ttype.args or ttype.args.get(key) != "text":
        return values
    asks = sorted((v for v in values if isinstance(v, str) and is_question(v.strip())),
                  key=lambda v: bool(quoted_passages(v)))
    if key == PASSAGE_SLOT:
        return [v for v in values if v not in asks] + asks
    return asks + [v for v in values if v not in asks]


def _quoted_alone(ttype, key: str, quoted: Collection[str], values: list) -> list:
    """The text a task of text alone works on (to translate, summarise, speak, classify) is
    what the user put in quotes, when the slot may take it: not a span that holds the quote
    and the words around it ("translate this: 'good morning'" is not the text to translate).
    A question (question answering's question slot), a drawing's prompt ("a sign that says
    'open'") and a question asked of a file keep every span."""
    if (not quoted or set(ttype.args.values()) != {"text"} or ttype.output in ("image", "video")
            or (PASSAGE_SLOT in ttype.args and key != PASSAGE_SLOT) or key in LIST_SLOTS):
        return values
    if not any(v in quoted for v in values):
        return values
    return [v for v in values if not (isinstance(v, str) and v not in quoted and any(q in v for q in quoted))]


MAX_OPTION_WORDS = 4


def is_list(text: str) -> bool:
    """Is ``text`` a list of short options ("billing, shipping delay, or refunds")? Not a
    question or a sentence ("is this formal or informal? 'hey dude, wanna grab lunch?'")."""
    if re.search(r"[?!]|\.\s*$", text):
        return False
    parts = options(text)
    return len(parts) >= 2 and all(len(p.split()) <= MAX_OPTION_WORDS for p in parts)


def _lists_to_list_slots(key: str, quoted: Collection[str], values: list) -> list:
    """A slot that takes a list of options (zero-shot labels) offers only the texts that
    are lists when the request names one, all its values otherwise; another text slot
    offers the texts that are not lists, when there are any, and what the user ``quoted``
    ("'good morning everyone, thanks for coming'" reads like two short options)."""
    if key not in LIST_SLOTS:  # a list of options is not the text to work on
        return [v for v in values if v in quoted or not (isinstance(v, str) and is_list(v))] or values
    lists = [v for v in values if isinstance(v, str) and not v.startswith("<resource>-") and is_list(v)]
    return lists or values

REF_SLOTS_FIRST = ("context", "text")  # where an earlier output goes first (a passage, the text)


def _shared_ref_assignments(slots: dict[str, list]) -> list[dict[str, list]]:
    """A guided step whose earlier output could fill several slots (question answering:
    the question and the passage) puts it in one of them and the texts the clause
    names in the others — one alternative per slot the output may take, so the chain
    continues and each input is used once. Slots without a shared output are kept."""
    refs = {v for values in slots.values() for v in values if isinstance(v, str) and v.startswith("<resource>-")}
    shared = [ref for ref in refs if sum(ref in values for values in slots.values()) > 1]
    if len(shared) != 1:
        return [slots]
    ref = shared[0]
    holders = [k for k, values in slots.items() if ref in values]
    others = {k: [v for v in slots[k] if v != ref] for k in holders}
    if not any(others.values()):
        return [slots]  # nothing else to put beside it
    order = sorted(holders, key=lambda k: (REF_SLOTS_FIRST.index(k) if k in REF_SLOTS_FIRST else len(REF_SLOTS_FIRST),
                                           holders.index(k)))
    assignments = []
    for taker in order:
        assignment = {k: ([ref] if k == taker else (others[k] or [ref])) if k in holders else values
                      for k, values in slots.items()}
        assignments.append(assignment)
    return assignments


def _slot_values(ttype, modality, earlier, files, texts, free_text, edge_ok, local, spelled=()) -> list:
    refs = [f"<resource>-{j}" for j, src in enumerate(earlier) if src.output == modality and edge_ok(src, ttype)]
    if local is not None:
        refs = refs[-1:]  # a guided step continues the chain from the latest output that fits
    own = [f for f, m in files.items() if m == modality] + (list(texts) if modality == "text" else [])
    named = [v for v in own if v in files and v in spelled] if local is not None else []
    own = named + [v for v in own if v not in named]  # a file the clause names by its file name comes first,
    if refs and local is not None:  # also before the chain ("… and read welcome.txt out loud")
        return named + refs + [v for v in own if v in local and v not in named]
    return refs + own + ([FREE] if modality == "text" and free_text and not refs else [])


def choice_grammar(ids: Sequence[str], with_reason: bool = True) -> str:
    """GBNF for ``{"id": "<one of ids>", "reason": "…"}``."""
    alts = " | ".join(_lit(_lit(i)) for i in ids)
    if not with_reason:
        return f'root ::= "{{\\"id\\": " ({alts}) "}}"\n'
    return (
        f'root ::= "{{\\"id\\": " ({alts}) ", \\"reason\\": " reason "}}"\n'
        r'reason ::= "\"" [^"\\\x7F\x00-\x1F]{1,160} "\""' "\n"
    )
