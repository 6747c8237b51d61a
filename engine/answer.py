"""Stage 4: the answer.

The controller writes the direct answer from the results (streamed), or — when
the plan was empty — answers the request itself. The workflow part — which models
ran, on what, with what outcome, and the complete paths of the files written — is
written by the engine from the run record, in the first person, so model names and
paths are always exact however small the controller. The answer is kept as its
parts (``direct``, ``workflow`` steps, ``notes`` on what failed outside any task);
``compose`` is the one place they become a single text.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

from .cancel import CancelToken
from .plan.graph import RESOURCE_RE
from .text import QUESTION_WORDS, clip

MAX_ANSWER_TOKENS = 200
WORKFLOW_HEADING = "How I did it:"
NOTES_HEADING = "What went wrong:"
FILE_SLOTS = ("image", "audio")  # the argument names that hold a file, not a text

ANSWER_SPEC = (
    "You are hgpt, an assistant running offline on the user's computer. AI models were run for the "
    "user's request; their results follow it. Answer the request directly and briefly, in one to three "
    "sentences: use the results where they answer it. If a step failed or no result answers the "
    "question, answer it yourself as well as you can and say in a few words that the step failed. "
    "Never invent files or results."
)
CHAT_SPEC = ("You are hgpt, a helpful assistant running offline on the user's computer. "
             "Answer the user directly, correctly and briefly.")


def answer_messages(request: str, results: Sequence[dict], history: Sequence[dict] = (),
                    about: str = "") -> list[dict]:
    """The prompt of stage 4, after the HuggingGPT paper's Table 1: the request and the
    execution log; with no results, the request alone (answered directly). ``about``
    says what this installation can do, so questions about hgpt get true answers."""
    turns = [{"role": t["role"], "content": t["content"]} for t in history]
    if not results:
        system = CHAT_SPEC + (f"\n{about}" if about else "")
        return [{"role": "system", "content": system}] + turns + [{"role": "user", "content": request}]
    lines = []
    for r in results:
        on = f" on {_describe_input(r['args'])}" if r.get("args") else ""  # which file: a follow-up's is new
        lines.append(f"- {r['task']} with {r['model_id']}{on} {_outcome(r)}")
    log = "\n".join(lines) or "(no models were run)"
    return ([{"role": "system", "content": ANSWER_SPEC}] + turns
            + [{"role": "user", "content": f"{request}\n\nResults:\n{log}"}])


def _outcome(result: dict) -> str:
    """What a step gave, its text in quotes: unquoted, a small controller took words of the
    line's own ("image-to-text") for the text it read."""
    if result.get("text"):
        return f'gave: "{result["text"]}"'
    if result.get("files"):
        return "wrote: " + ", ".join(result["files"])
    return f"{result.get('status') or 'failed'}: {result.get('error', '')}"


def _short(text: str, limit: int = 160) -> str:
    return clip(text, limit, one_line=True)


def _describe_value(key: str, value: str) -> str:
    whole = RESOURCE_RE.fullmatch(str(value).strip())
    if whole:
        return f"the output of step {int(whole.group(1)) + 1}"
    value = RESOURCE_RE.sub(lambda m: f"[output of step {int(m.group(1)) + 1}]", str(value))
    return f'"{_short(value, 60)}"' if key not in FILE_SLOTS else _short(value, 60)


def _describe_input(args: dict) -> str:
    return " and ".join(_describe_value(k, v) for k, v in args.items())


def workflow_steps(results: Sequence[dict], controller: str = "") -> list[str]:
    """One first-person line per task: what ran, with which model, on what, and what came of
    it; then, when ``controller`` is named, the model that planned the steps and answered."""
    lines = []
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
            step += "; " + ("; ".join(outcome) or "it finished")
        else:
            step += f" — it {r['status'].replace('not run', 'did not run')}: {_short(r.get('error', ''), 200)}"
        lines.append(step if step.endswith((".", "!", "?", "…")) else step + ".")
    if lines and controller:
        lines.append(f"I planned these steps and wrote this answer with {controller}.")
    return lines


def compose(direct: str, workflow: Sequence[str] = (), notes: Sequence[str] = ()) -> str:
    """The whole answer as one text: the direct answer, how it was done, what went wrong."""
    parts = [direct.strip()]
    if workflow:
        parts.append("\n".join([WORKFLOW_HEADING, *workflow]))
    if notes:
        parts.append("\n".join([NOTES_HEADING, *(f"- {_short(n, 300)}" for n in notes)]))
    return "\n\n".join(p for p in parts if p)


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


ADDRESSES_ME = re.compile(r"\b(you|your|yours|yourself|hgpt)\b", re.IGNORECASE)


def asks_about_me(request: str) -> bool:
    """Whether a request speaks to the assistant ("which files can you read?"): only then
    does the prompt say what this installation can do. Said to every question, the list
    of model tasks pulls plain questions towards machine learning ("H2O" became a
    machine-learning platform, the leap year 365 days, with Qwen2.5-Coder-1.5B)."""
    return bool(ADDRESSES_ME.search(request))


def about_hgpt(can: Sequence[str], file_kinds: dict[str, Sequence[str]]) -> str:
    """What this installation can do, in words the controller can answer questions from:
    ``can`` says each thing in plain words (``Engine._about``), so that "what can you do?" is
    answered in them, not with a list of model task names."""
    kinds = "; ".join(f"{kind}: {' '.join(s.lstrip('.') for s in suffixes)}" for kind, suffixes in file_kinds.items())
    return (f"About yourself: with the models installed on this computer you can {'; '.join(can)}. "
            f"Files you can take: {kinds}. Asked what you can do, list these in plain words, "
            "never by task names.")


# tasks whose text is itself what the user asked to see: what is written, what is said
VERBATIM = {"image-to-text": "The text I read from {input}", "automatic-speech-recognition": "What {input} says"}
QUESTION = re.compile(rf"\?|^\s*(?:{QUESTION_WORDS}|can|could)\b", re.IGNORECASE)


def verbatim(request: str, results: Sequence[dict]) -> str:
    """The answer when the last step's text is what the request asks to see ("read the text
    in this scan", "transcribe this") and the request asks no question: that
    text, as the step gave it (each one, when every step read a file the same way:
    "transcribe both recordings"). A small controller retelling it gets it wrong (it called a
    page about segmentation "a description of an image processing task"). '' otherwise."""
    if not results or QUESTION.search(request) or _mixed(results):
        return ""
    last = results[-1]
    lead = VERBATIM.get(last.get("task", ""))
    if last.get("status") != "done" or not lead or not (last.get("text") or "").strip():
        return ""
    if last["task"] == "image-to-text" and not re.search(r"\b(read|text|written|says?|ocr|transcri)", request, re.I):
        return ""  # a caption: the controller words it
    # the same reading of several files ("transcribe both recordings"): each text, under its file's name
    shown = results if all(r.get("task") == last["task"] and r.get("status") == "done" for r in results) else [last]
    return _as_read(shown)


def _mixed(results: Sequence[dict]) -> bool:
    """Did a step other than a reading give text of its own, beside a reading ("describe this
    photo and read the text on it": a description and a reading)? Then no one text is the answer."""
    done = [r for r in results if r.get("status") == "done" and (r.get("text") or "").strip()]
    return any(r.get("task") in VERBATIM for r in done) and any(r.get("task") not in VERBATIM for r in done)


def _as_read(results: Sequence[dict]) -> str:
    """Each reading step's text under what it read: "What memo.wav says:\n\n…"."""
    parts = []
    for result in results:
        lead = VERBATIM[result["task"]]
        inputs = [v for v in (result.get("args") or {}).values() if isinstance(v, str) and not RESOURCE_RE.search(v)]
        parts.append(f"{lead.format(input=inputs[0] if inputs else 'it')}:\n\n{(result.get('text') or '').strip()}")
    return "\n\n".join(parts)


# a request that asks for the words themselves besides other work ("transcribe this and summarize it")
ASKS_THE_WORDS = re.compile(r"\b(transcri\w*|write (it |them )?down|copy (it |them )?out|word for word|"
                            r"what(?:'s| is) written|(?:read|type) (?:out )?(?:all )?(?:the |its )?(?:text|words))",
                            re.IGNORECASE)


def words_asked_for(request: str, results: Sequence[dict]) -> str:
    """The words a reading step gave, in full, when the request asks for them and later steps
    did more with them ("transcribe this and summarize it": the answer is about the summary,
    and the transcript follows it, as ``verbatim`` gives it when reading was all). The last
    step's text is left to ``verbatim``, unless other steps gave text beside the readings
    (``_mixed``); '' when nothing of this applies."""
    if not ASKS_THE_WORDS.search(request):
        return ""
    read = [r for r in (results if _mixed(results) else results[:-1]) if r.get("task") in VERBATIM
            and r.get("status") == "done" and (r.get("text") or "").strip()]
    return _as_read(read) if read else ""


def unread(results: Sequence[dict]) -> str:
    """When no step worked and one that failed was to look at or listen to a file the user
    brought, the answer that says so: nothing read the file, so no answer about it can be
    given (asked "what's in this photo?" when the captioner failed, a small controller
    answered "The image does not contain any text"). '' otherwise: a failed step on text
    alone ("translate 'good night'") the controller can answer itself."""
    if not results or any(r.get("status") == "done" for r in results):
        return ""
    for r in results:
        files = [str(v) for k, v in (r.get("args") or {}).items()
                 if k in FILE_SLOTS and not RESOURCE_RE.search(str(v))]
        if r.get("status") == "failed" and files:
            return (f"I could not answer this: {r['task']} of {' and '.join(files)} failed "
                    f"({_why_failed(r)}), so I have not seen "
                    f"what {'it holds' if len(files) == 1 else 'they hold'}.")
    return ""


def unanswered(results: Sequence[dict]) -> str:
    """When a step that asked a question of a picture or a recording failed and other steps
    worked, the answer that says the question went unanswered, then what the steps that
    worked gave. The controller sees no picture: given a caption, it answered the failed
    question anyway ("no one is smiling"). '' when no such step failed."""
    asked = [r for r in results if r.get("status") == "failed" and _question_of_a_file(r)]
    if not asked:
        return ""
    parts = []
    for r in asked:
        files = [_describe_value(k, v) for k, v in r["args"].items() if k in FILE_SLOTS]
        parts.append(f"I could not answer \u201c{_short(r['args']['text'], 120)}\u201d: {r['task']} of "
                     f"{' and '.join(files)} failed ({_why_failed(r)}).")
    gave = [f"{r['task']} gave \u201c{_short(r['text'], 200)}\u201d" for r in results
            if r.get("status") == "done" and r.get("text")]
    wrote = [f for r in results if r.get("status") == "done" for f in r.get("files", [])]
    if gave:
        parts.append("What did work: " + "; ".join(gave) + ".")
    if wrote:
        parts.append("Output: " + ", ".join(wrote))
    return " ".join(parts)


def _why_failed(result: dict) -> str:
    return _short(result.get("error", "") or "no reason given", 200).rstrip(".")


def _question_of_a_file(result: dict) -> bool:
    """Does the step ask its own question (not an earlier step's text) of a file?"""
    args = result.get("args") or {}
    question = str(args.get("text", ""))
    return any(k in FILE_SLOTS for k in args) and bool(question.strip()) and not RESOURCE_RE.search(question)


def direct_answer(controller, request: str, results: Sequence[dict], history: Sequence[dict] = (),
                  cancel: CancelToken | None = None, about: str = "") -> Iterator[str]:
    """The controller's direct answer in pieces; if it says nothing, a summary of the results.
    A text the request asks to see as it is (``verbatim``) is given as it is; when every step
    failed and one was to read the user's file, the answer says so (``unread``), and so it does
    when a question asked of a file went unanswered (``unanswered``). The words a reading step
    gave follow the answer when the request asked for them too (``words_asked_for``)."""
    text = verbatim(request, results) or unread(results) or unanswered(results)
    if text:
        yield text
        return
    produced = False
    if controller is not None:
        messages = answer_messages(request, results, history, about)
        for piece in controller.stream(messages, max_tokens=MAX_ANSWER_TOKENS, cancel=cancel):
            produced = produced or bool(piece.strip())
            yield piece
    if not produced and results:
        yield direct_answer_fallback(results)
    if words := words_asked_for(request, results):
        yield f"\n\n{words}"
