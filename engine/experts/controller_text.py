"""Text tasks answered by the controller LLM itself, as HuggingGPT's reference does
when no better local model is installed: summarization, translation, conversation,
text generation, text-to-text rewriting, answering a question from a passage, and
telling a text's sentiment (its scope keeps it to that; an installed classifier, when
there is one, is chosen first: it has the downloads)."""

from __future__ import annotations

import re

from ..text import language_asked
from .base import Expert, ExpertContext, ExpertResult, Scope

INSTRUCTIONS = {
    "summarization": "Summarize the following text in one or two sentences.",
    "translation": "You translate texts. Reply with the translation only.",
    "conversational": "Reply helpfully and briefly to the following message.",
    "text-generation": "Write what the following asks for. Be brief.",
    "text2text-generation": "Rewrite or answer the following text as it asks. Be brief.",
    "question-answering": "Answer the question from the passage only, in a few words. If the passage does not "
                          "say, reply that it does not say.",
    "text-classification": "Say whether the sentiment of the text is positive, negative, neutral or mixed. "
                           "Reply with that one word.",
}


class ControllerText(Expert):
    model_id = "controller"
    tasks = tuple(INSTRUCTIONS)
    runtime = "llama.cpp"
    licence = "Apache-2.0"
    description = ("The controller LLM itself (the one chosen in Settings), answering text tasks "
                   "when no dedicated model is installed.")
    source = "the controller GGUF"
    # its text classification is sentiment alone (an installed classifier does the rest)
    scopes = {"text-classification": Scope("say whether a text is positive, negative, neutral or mixed in sentiment",
                                           not_for=("sort a text into topics", "tell whether an email is spam",
                                                    "which language is this text in"),
                                           also=("is this review positive or negative", "how does this person feel",
                                                 "what is the mood of this message"))}

    def run(self, task: str, args, ctx: ExpertContext) -> ExpertResult:
        if ctx.controller is None:
            raise RuntimeError("no controller LLM is loaded")
        if task == "question-answering":  # a question and the passage it is answered from
            asked = f"Passage:\n{_one_paragraph(args.get('context', ''))}\n\nQuestion: {str(args['text']).strip()}"
        elif task == "translation":
            asked = translation_ask(args["text"], ctx.request)
        else:
            asked = framed(args["text"], ctx.request, ASK.get(task, TEXT_ASK), text_first=task in TEXT_FIRST)
        messages = [{"role": "system", "content": INSTRUCTIONS[task]}, {"role": "user", "content": asked}]
        grammar = LABEL_GBNF if task == "text-classification" and getattr(ctx.controller, "accepts_grammar", False) \
            else None
        text = ctx.controller.complete(messages, grammar=grammar, max_tokens=200 if grammar is None else 16).strip()
        return ExpertResult(text=text, data={"generated_by": getattr(ctx.controller, "name", "controller")})


# the sentiment, one word of four, never a paragraph about the text
SENTIMENTS = ("positive", "negative", "neutral", "mixed")
LABEL_GBNF = "root ::= " + " | ".join(f'"{label}"' for label in SENTIMENTS)
TEXT_ASK = "The text:"  # what follows the request, before the text
ASK = {"translation": "Translate this text accordingly:", "summarization": "The text to summarize:"}
INTO_ENGLISH = "Translate this text into English:"  # a request that asks for no language ("it's all in French")
# tasks given the text first and the request after it, for length and focus only: with the request
# first, "summarize the transcript of this call, in French" was summarized as "The user asked to…"
TEXT_FIRST = frozenset({"summarization"})


def framed(text: str, request: str, ask: str = TEXT_ASK, *, text_first: bool = False) -> str:
    """The text to work on, after the user's request when the request says more than the
    text itself ("translate that into French" names the language; the text does not), or
    before it (``text_first``: a summary is of the text, not of the request)."""
    text, request = _one_paragraph(text), str(request or "").strip()
    if not request or request == text or request in text:
        return text
    if text_first:
        return f'{ask}\n\n{text}\n\n(What the user asked, for the length and focus only: "{request}")'
    return f'The user asked: "{request}"\n{ask}\n\n{text}'


def translation_ask(text: str, request: str) -> str:
    """The text to translate after the request, with the day and month names it holds named in
    the language asked for (``calendar_words``): a small model recalls them wrong."""
    from .calendar_words import note

    words = note(text, request)
    ask = ASK["translation"] if language_asked(request) else INTO_ENGLISH  # none asked for: into English
    return framed(text, request, f"{ask[:-1]} ({words}):" if words else ask)


def _one_paragraph(text) -> str:
    """Lines broken by the page (OCR, a transcript) joined into paragraphs: a small model
    given them line by line translates the first line and stops."""
    return re.sub(r"(?<!\n)\n(?!\n)", " ", str(text).strip())


EXPERTS = [ControllerText]
