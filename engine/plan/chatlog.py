"""Chat logs: the earlier turns a request continues, and the files they carry.

A turn is ``{"role": "user" | "assistant", "content": str}`` with an optional
``"files"``: the paths of files the turn attached or produced (or, once staged, a
``{name: modality}`` map). ``Engine.run(request, history=turns)`` passes them to the
planner, so "now read that aloud" can take the previous answer's text and "now
describe that picture" the previous turn's image: ``stage_history`` copies each
earlier file that still exists into the new run's ``inputs`` folder (under a
name unique in the run), adds it to the files the executor may read, and rewrites
the turn's ``files`` to the staged names. A file that is gone or of an unknown
kind is left out; the request still runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping, MutableMapping, Sequence

from ..errors import AttachmentError
from ..text import quoted_texts

ROLES = ("user", "assistant")


def turn_files(turn: Mapping) -> dict[str, str]:
    """The ``{name: modality}`` files of one turn, whichever form it gives them in."""
    from ..files import modality_of

    named = turn.get("files") or {}
    if isinstance(named, Mapping):
        return {str(k): str(v) for k, v in named.items() if v}
    files = {}
    for item in named:
        try:
            files[Path(item).name] = modality_of(Path(item))
        except AttachmentError:
            continue
    return files


def history_files(history: Sequence[Mapping]) -> dict[str, str]:
    files: dict[str, str] = {}
    for turn in history:
        files.update(turn_files(turn))
    return files


def clean(history: Sequence[Mapping]) -> list[dict]:
    """Only well-formed turns, with their content as text."""
    return [dict(t, content=str(t.get("content", ""))) for t in history
            if isinstance(t, Mapping) and t.get("role") in ROLES]


def stage_history(history: Sequence[Mapping], run_dir: Path, files: MutableMapping[str, Path]) -> list[dict]:
    """Copy earlier turns' files into ``run_dir/inputs``; return the turns with staged names."""
    from ..files import modality_of

    staged_turns = []
    for turn in clean(history):
        paths = turn.get("files") or []
        if isinstance(paths, Mapping):
            staged_turns.append(turn)
            continue
        staged: dict[str, str] = {}
        for item in paths:
            path = Path(item)
            try:
                modality = modality_of(path)
            except AttachmentError:
                continue
            name = _unique(path, files)
            target = run_dir / "inputs" / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            except OSError:  # gone, unreadable, or the disk is full: the turn loses this file
                continue
            files[name], staged[name] = target, modality
        staged_turns.append(dict(turn, files=staged))
    return staged_turns


def _unique(path: Path, taken: Mapping[str, Path]) -> str:
    name, n = path.name, 1
    while name in taken:
        n += 1
        name = f"{path.stem}-{n}{path.suffix}"
    return name


def asked_before(history: Sequence[Mapping], attachments: Mapping[str, str], limit: int = 3) -> list[str]:
    """Earlier requests, latest first, that brought a file of a kind this turn brings:
    "and what about this one?" with a second photo may ask one of them again. A turn
    that itself asked an earlier request again gives that request (``asked``)."""
    kinds = set(attachments.values())
    users = [t for t in clean(history) if t.get("role") == "user" and set(turn_files(t).values()) & kinds]
    return [t.get("asked") or t["content"] for t in reversed(users)][:limit] if kinds else []


def asked_of_a_quote(history: Sequence[Mapping], request: str, limit: int = 3) -> list[str]:
    """Earlier requests, latest first, that brought no file and quoted one text, each with
    that text replaced by the one text this request quotes: "ok and this one? '…'" after
    "is this review positive? '…'" asks the same of the new review."""
    new = quoted_texts(request)
    if len(new) != 1:
        return []
    asked = []
    for turn in reversed([t for t in clean(history) if t.get("role") == "user" and not turn_files(t)]):
        content = turn.get("asked") or turn["content"]
        old = quoted_texts(content)
        if len(old) == 1 and old[0] != new[0]:
            asked.append(content.replace(old[0], new[0]))
    return asked[:limit]


def last_asked_of_files(history: Sequence[Mapping]) -> tuple[str, dict[str, str]]:
    """The request and files of the latest user turn that brought files: "and when does it
    expire?" after "what's the policy number on this?" asks about the same card, and so
    does a third question after that."""
    users = [t for t in clean(history) if t.get("role") == "user" and turn_files(t)]
    if not users:
        return "", {}
    return users[-1].get("asked") or users[-1]["content"], turn_files(users[-1])
