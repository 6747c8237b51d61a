"""Triage: does a request need an expert at all, or does the controller answer it?

A request needs experts when it asks for a task *and* brings what that task works
on. Greetings, thanks, factual and how-to questions, arithmetic and questions about
hgpt itself bring nothing to work on: the controller answers them directly, which
is also the fastest path (no embedding model, no planning prompt).

What a request brings (``Inputs``): the files of this turn (attached, or named in
the text like ``photo.jpg``); text to work on (quoted words, the text after a
colon, a long passage); and, when it points back ("read that aloud", "that
picture", or a word of the previous answer: "the counter" after "It shows a kitchen
counter …"), the previous answer and the earlier turns' files. A task asked for in
a clause (a cue keyword, or a clause whose meaning is close to the task's) counts
when its inputs are at hand: every input modality is there, or the task makes an
image, video or sound from a description (the request itself is that
description), or the missing file can itself be made from text the request
brings ("segment a picture of 'a castle'": draw it first). An order with a cue
keyword names its own input ("translate hola"); a question does not ("how many
continents are there?" asks for no object detection). A clause whose meaning is
close to a task counts from the ranking's first-step score, or from its
later-step score when the request brings something to work on (an order to make
a picture, video or sound brings its description).

``triage`` reads keywords first; the meaning of clauses (MiniLM, through the
planner's ``TaskRanker``) is computed only when keywords decide nothing and the
request is not plainly conversational, so "What is 12 times 7?" is answered
without loading the embedding model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ..files import FILE_NOUNS
from ..tasks import MEDIA, PASSAGE_READERS, TaskType, norm_name
from .rails import colon_texts, listed_lines
from .ranking import FIRST_STEP, LATER_STEP, MAKING, QUOTED_RE, cue_keywords, load_cues, split_clauses

PICTURES = ("image", "video")
PASSAGE_WORDS = 40  # a request this long carries its own text to work on
# A request shaped as talk: a question, a greeting, thanks, a request for advice or an explanation.
CONVERSATIONAL = re.compile(
    r"^\s*(?:(?:hi|hello|hey|thanks|thank you|great|good (?:morning|afternoon|evening)|cheers|ok(?:ay)?|cool|"
    r"nice|wow|sorry|please|(?:any |some )?(?:tips|advice|ideas|suggestions|recommendations))\b|"
    r"(?:what|who|whom|whose|when|where|why|how|which|is|are|am|was|were|can|could|"
    r"do|does|did|should|would|will|shall|may|might|tell me|explain|define|give me|list|name|suggest|recommend)\b)",
    re.IGNORECASE)
# a question about what hgpt can do ("what kinds of things can you do? can you edit videos?")
ABOUT_HGPT = re.compile(r"\bwhat (?:(?:kinds?|sorts?|types?) of )?(?:things |stuff |tasks |jobs )?(?:can|could) you do\b|"
                        r"\b(?:are you able to|do you support|what are your (?:features|capabilities|limits))\b|"
                        r"\bwhat (?:can|could) (?:you|hgpt) (?:do|handle|help with)\b", re.IGNORECASE)
# a request for advice ("can you recommend a movie for tonight?"), and the verbs of making something
ADVICE = re.compile(r"\b(?:recommend\w*|suggest\w*|what should (?:i|we) (?:watch|listen to|read|play))\b", re.IGNORECASE)
# an order to change what the request points back at ("now make it night", "turn that into a sketch",
# "make another one but with a wolf")
CHANGE = re.compile(r"^\s*(?:(?:nice|great|cool|perfect|love it|lovely|awesome|wow|thanks|thank you)\b[^.!?\w]*[.!?]*\s*)?"
                    r"(?:(?:now|ok(?:ay)?|and|then|so|pls|please|can you|could you|would you)[,\s]+)*"
                    r"(?:(?:make|turn|change|transform|convert)\s+(?:it|this|that|them|these|those|"
                    r"the (?:" + "|".join(FILE_NOUNS.values()) + r"))|"
                    r"(?:make|draw|do|create|generate)\s+(?:me\s+)?(?:another|one more|a new|one)(?:\s+one|\s+version)?|"
                    r"(?:do|make|draw|create|generate)\s+(?:me\s+)?(?:the\s+)?same\s+(?:one|thing|picture|image|again)\b"
                    r"[^.?!]{0,10}?\b(?:but|with|in|at|as))\b",
                    re.IGNORECASE)
HOW_TO = re.compile(r"^\s*(?:how|what(?:'s| is) the best way)\s+(?:do|can|could|should|would|to)\b", re.IGNORECASE)
POINTS_BACK = re.compile(r"\b(that|it|this|these|those|they|them|he|she|him|her|his|the (answer|result|reply|text|summary|transcript|"
                         r"translation|caption|description|" + "|".join(FILE_NOUNS.values()) + r")|above|previous|"
                         r"same)\b", re.IGNORECASE)

# a question that goes on from the previous one ("and what was the date of purchase?" after
# "what's the total on receipt.jpg"): it asks of what that one asked of
CONTINUES = re.compile(r"^\s*(?:(?:oh|ok(?:ay)?|so),?\s+)?(?:and|also|plus|what about)\b", re.IGNORECASE)


CHANGES = "it asks to change what it points back at"  # the verdict's reason for such an order


WORD_RE = re.compile(r"[a-z]{4,}")
# words too common to show that a request is about what the previous answer said
COMMON_WORDS = frozenset("""this that these those there their them they then than what which when where with
without from into onto about above after before again also just only very really please could would should
have will your yours mine some many much more most such other every each thing things something anything
make made like look looks show shows tell want need help give know said says here even well still ever""".split())


def shared_words(request: str, last_answer: str) -> set[str]:
    """Content words the request shares with the previous answer: "draw boxes around
    everything on the counter" after "It shows a kitchen counter …" is about that picture."""
    words = lambda text: set(WORD_RE.findall(text.lower())) - COMMON_WORDS  # noqa: E731
    return words(request) & words(last_answer) if last_answer else set()


@dataclass(frozen=True)
class Inputs:
    """What a request brings for experts to work on."""

    modalities: frozenset[str]  # file modalities at hand: this turn's, or earlier turns' when pointed back
    text: bool  # text to work on: quoted, after a colon, a passage, or a previous answer pointed back

    def can_run(self, task: TaskType) -> bool:
        """Are ``task``'s inputs at hand? A text-only task needs text to work on (a task
        that makes media from text takes the request as its description); a file input
        needs a file of its kind, or text to make one from; beside a file, a text slot
        (a question, a prompt) is the request itself."""
        files_needed = task.file_inputs
        if not files_needed:
            return task.output in MEDIA or self.text
        return all(m in self.modalities or (self.text and m in MEDIA) for m in files_needed)


@dataclass
class Triage:
    direct: bool
    why: str
    asked: list[str] = field(default_factory=list)  # task types asked for whose inputs are at hand

    def to_dict(self) -> dict:
        return {"direct": self.direct, "why": self.why, "asked": list(self.asked)}


def inputs_of(request: str, files: Mapping[str, str], earlier_files: Mapping[str, str],
              last_answer: str = "", pointed: bool = False) -> Inputs:
    """What ``request`` brings; ``pointed``: it points back though no word of it says so."""
    pointed = pointed or bool(POINTS_BACK.search(request)) or bool(shared_words(request, last_answer))
    modalities = set(files.values()) | (set(earlier_files.values()) if pointed else set())
    quoted = any(m for m in QUOTED_RE.finditer(request))
    text = quoted or bool(colon_texts(request)) or bool(listed_lines(request)) \
        or len(request.split()) >= PASSAGE_WORDS \
        or (pointed and bool(last_answer))
    return Inputs(frozenset(modalities), text)


class Triager:
    """Decides direct answer or plan, for one list of task types."""

    def __init__(self, task_types: Sequence[TaskType], cues: Mapping[str, dict] | None = None):
        cues = load_cues() if cues is None else cues
        self.task_types = list(task_types)
        # triage reads keywords only for a request that brings no file, where bare keywords count too
        self.keywords = cue_keywords(cues, self.task_types, ("keywords", "modifiers", "bare_keywords"))

    def keyword_tasks(self, request: str) -> list[TaskType]:
        """Task types whose cue keywords fire in some clause of the request (quotes masked)."""
        clauses = [QUOTED_RE.sub(" ", c) for c in split_clauses(request)]
        return [t for t, pats in zip(self.task_types, self.keywords) if any(p.search(c) for p in pats for c in clauses)]

    def triage(self, request: str, files: Mapping[str, str], earlier_files: Mapping[str, str] = {},
               last_answer: str = "", rank: Callable[[], object] | None = None) -> Triage:
        """``files``: this turn's; ``earlier_files``: the chat log's; ``rank``: the clause
        ranking, computed only if needed (a ``ranking.Ranking``)."""
        if files:
            return Triage(False, "the request brings files", [])
        inputs = inputs_of(request, files, earlier_files, last_answer)
        talk = bool(CONVERSATIONAL.match(request))
        if ABOUT_HGPT.search(request) and not inputs.text and not inputs.modalities:
            return Triage(True, "a question about what hgpt can do")
        # an order names its own input ("translate hola"); a question about the world does not,
        # nor an order to sum up a passage it does not bring ("summarize the plot of hamlet");
        # asking for advice about a film, what a gif is or how to make one asks for no picture or
        # film to be made
        no_making = ((bool(ADVICE.search(request)) or talk) and not MAKING.search(request)) \
            or (talk and bool(HOW_TO.match(request)))
        asked = [t.name for t in self.keyword_tasks(request)
                 if not (no_making and t.output in PICTURES)
                 and (inputs.can_run(t) or (not talk and set(t.args.values()) == {"text"}
                                            and norm_name(t.name) not in PASSAGE_READERS))]
        if asked:
            return Triage(False, "it asks for " + ", ".join(asked), asked)
        if CHANGE.match(request):  # a change of what was made points back at it ("make another one")
            inputs = inputs_of(request, files, earlier_files, last_answer, pointed=True)
            if inputs.modalities or inputs.text:
                ranking = rank() if rank is not None else None
                fits = [(float(score), t.name) for t, score in zip(ranking.task_types, ranking.scores.max(axis=0))
                        if inputs.can_run(t) and t.output == self._changed(t, inputs)] if ranking is not None else []
                return Triage(False, CHANGES, [max(fits)[1]] if fits else [])
        if talk and not inputs.text:
            return Triage(True, "a question or a remark with nothing for an expert to work on")
        ranking = rank() if rank is not None else None
        if ranking is None:
            return Triage(not inputs.text and not inputs.modalities, "no task ranking; judged by its inputs")
        best = ranking.scores.max(axis=0)
        asked = [t.name for t, score in zip(ranking.task_types, best)
                 if score >= self._bar(t, inputs, talk) and inputs.can_run(t)]
        if asked:
            return Triage(False, "its meaning is close to " + ", ".join(asked), asked)
        return Triage(True, "no task it could ask for has anything to work on")

    @staticmethod
    def _changed(task: TaskType, inputs: Inputs) -> str:
        """What a change of what the request points back at makes: a file of the kind it takes
        (a picture changed is a picture), else text."""
        files = task.file_inputs & inputs.modalities
        return next(iter(files)) if len(files) == 1 else "text"

    @staticmethod
    def _bar(task: TaskType, inputs: Inputs, talk: bool) -> float:
        """The clause score that asks for ``task``: lower when the request brings something to
        work on — text, files, or (an order to make a picture, video or sound) its description."""
        makes_media = task.output in MEDIA and set(task.args.values()) == {"text"}
        brings = inputs.text or bool(inputs.modalities) or (makes_media and not talk)
        return LATER_STEP if brings else FIRST_STEP
