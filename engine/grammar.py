"""GBNF grammars that constrain the controller's output to valid plans and picks.

The plan grammar is unrolled by position: the task at position ``i`` must have
``"id": i``, may depend only on ``-1`` or ids below ``i``, and may refer only to
``<resource>-j`` for ``j < i``. Task names come only from the allowed list, and
each task's argument keys are exactly that task's slots. A file slot (image,
audio, video) accepts the names of the user's attachments of that modality, or an
earlier task's resource — the controller cannot invent a file name when files
are attached. The empty plan ``[]`` means "answer directly".
"""

from __future__ import annotations

import json
import re
from typing import Mapping, Sequence

from .tasks import TaskType

STRING = r'"\"" ( [^"\\\x7F\x00-\x1F] | "\\" ["\\/bfnrt] ){1,300} "\""'


def _lit(text: str) -> str:
    return json.dumps(text)


def _rule_name(*parts) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", str(p).lower()).strip("-") for p in parts)


def plan_grammar(
    task_types: Sequence[TaskType],
    attachments: Mapping[str, str] | None = None,
    max_tasks: int = 6,
    allow_empty: bool = True,
) -> str:
    """GBNF for a plan of at most ``max_tasks`` tasks over ``task_types``."""
    attachments = dict(attachments or {})
    names = [t.name for t in task_types]
    if not names:
        return 'root ::= "[]"'
    lines = [f"str ::= {STRING}"]
    for modality in ("image", "audio", "video"):
        files = [n for n, m in attachments.items() if m == modality]
        if files:
            alts = " | ".join(_lit(_lit(f)) for f in files)
            lines.append(f"file-{modality} ::= {alts}")
        else:
            lines.append(f"file-{modality} ::= str")
    lines.append("file-text ::= str")
    for i in range(max_tasks):
        refs = " | ".join(_lit(f'"<resource>-{j}"') for j in range(i))
        deps = " | ".join(_lit(str(j)) for j in range(-1, i))
        lines.append(f"dep{i} ::= \"[\" ({deps}) (\", \" ({deps}))* \"]\"" if i else 'dep0 ::= "[-1]"')
        for modality in ("text", "image", "audio", "video"):
            value = f"file-{modality}" + (f" | {refs}" if refs else "")
            lines.append(f"v{i}-{modality} ::= {value}")
        alts = []
        for t in task_types:
            rule = _rule_name("t", i, t.name)
            alts.append(rule)
            slots = [_lit((", " if n else "") + _lit(k) + ": ") + f" v{i}-{m}"
                     for n, (k, m) in enumerate(t.args.items())]
            head = _lit('{"task": ' + _lit(t.name) + f', "id": {i}, "dep": ')
            middle = _lit(', "args": {')
            lines.append(f"{rule} ::= {head} dep{i} {middle} {' '.join(slots)} {_lit('}}')}")
        lines.append(f"t{i} ::= " + " | ".join(alts))
    tail = ""
    for i in reversed(range(1, max_tasks)):
        tail = f'(", " t{i} {tail})?'
    body = f'"[" t0 {tail} "]"'
    root = f'root ::= "[]" | {body}' if allow_empty else f"root ::= {body}"
    return "\n".join([root] + lines) + "\n"


def choice_grammar(ids: Sequence[str], with_reason: bool = True) -> str:
    """GBNF for ``{"id": "<one of ids>", "reason": "…"}``."""
    alts = " | ".join(_lit(_lit(i)) for i in ids)
    if not with_reason:
        return f'root ::= "{{\\"id\\": " ({alts}) "}}"\n'
    return (
        f'root ::= "{{\\"id\\": " ({alts}) ", \\"reason\\": " reason "}}"\n'
        r'reason ::= "\"" [^"\\\x7F\x00-\x1F]{1,160} "\""' "\n"
    )
