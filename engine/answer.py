"""Stage 4: the answer.

The controller writes the direct answer from the results (streamed). The workflow
part — which models ran, on what, with what outcome, and the complete paths of the
files written — is written by the engine from the run record, in the first
person, so model names and paths are always exact however small the controller.
"""

from __future__ import annotations

from typing import Iterator, Sequence

from .plan import prompts
from .plan.graph import RESOURCE_RE

MAX_ANSWER_TOKENS = 120


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_value(key: str, value: str) -> str:
    whole = RESOURCE_RE.fullmatch(str(value).strip())
    if whole:
        return f"the output of step {int(whole.group(1)) + 1}"
    value = RESOURCE_RE.sub(lambda m: f"[output of step {int(m.group(1)) + 1}]", str(value))
    return f'"{_short(value, 60)}"' if key != "image" and key != "audio" else _short(value, 60)


def _describe_input(args: dict) -> str:
    return " and ".join(_describe_value(k, v) for k, v in args.items())


def notes_text(notes: Sequence[str]) -> str:
    """What went wrong outside any task (a dropped step, a damaged catalog)."""
    if not notes:
        return ""
    return "\n".join(["", "", "What went wrong:"] + [f"- {_short(n, 300)}" for n in notes])


def workflow_text(results: Sequence[dict]) -> str:
    if not results:
        return ""
    lines = ["", "", "How I did it:"]
    for r in results:
        step = f"{r['id'] + 1}. I ran {r['task']}"
        if r.get("model_id"):
            step += f" with {r['model_id']}"
        step += f" on {_describe_input(r['args'])}"
        if r["status"] == "done":
            outcome = []
            if r.get("text"):
                outcome.append(f"it gave: {_short(r['text'])}")
            if r.get("files"):
                outcome.append("it wrote " + ", ".join(r["files"]))
            step += "; " + ("; ".join(outcome) or "it finished") + "."
        else:
            step += f" — it {r['status'].replace('not run', 'did not run')}: {_short(r.get('error', ''), 200)}."
        lines.append(step)
    return "\n".join(lines)


def direct_answer_fallback(results: Sequence[dict]) -> str:
    done = [r for r in results if r["status"] == "done"]
    if not results:
        return ""
    if not done:
        return "I could not complete your request: every step failed (details below)."
    texts = [r["text"] for r in done if r.get("text")]
    files = [f for r in done for f in r.get("files", [])]
    parts = []
    if texts:
        parts.append(_short(texts[0], 200))
    if files:
        parts.append("Output: " + ", ".join(files))
    return " ".join(parts)


def answer(controller, request: str, results: Sequence[dict],
           history: Sequence[dict] = (), *, notes: Sequence[str] = ()) -> Iterator[str]:
    """Yield the answer in pieces: the controller's direct answer, then the workflow, then
    ``notes`` (what failed outside any task)."""
    produced = False
    if controller is not None:
        messages = prompts.answer_messages(request, results, history)
        for piece in controller.stream(messages, max_tokens=MAX_ANSWER_TOKENS):
            produced = produced or bool(piece.strip())
            yield piece
    if not produced and results:
        yield direct_answer_fallback(results)
    yield workflow_text(results)
    if notes:
        yield notes_text(notes)
