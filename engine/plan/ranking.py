"""Which task types a request asks for: clause-by-clause ranking of task types.

A small controller picks far better from one or two plausible tasks than from
forty, so the planner first ranks the task types for the request. The request is
split into clauses (on sentence ends, ";", ",", "then", "and" before a new verb …;
quoted text is never split) and each clause is scored against each task type:

* meaning — the cosine similarity (MiniLM, ``engine.embeddings``) between the
  clause (its quoted text masked: that is the input, not the ask) and the task's
  name and description and its cue phrases
  (``engine/plan/demos/cues.json``, the project's own short example requests);
* keywords — a cue pattern that fires in the clause ("transcri", "out loud")
  adds a fixed bonus; a task marked ``only_when_named`` (fill-mask: a blank to
  fill) is never a step without one; a *bare* keyword counts only in a request that
  brings no file ("generate a red vintage sports car": with nothing to work on, a
  thing to make that is not a text, a sound or a film is a picture);
* modality — a task that takes a file of a modality the user attached (or named
  in the text, like ``photo.jpg``) gains a little, one whose file input nobody
  supplied loses a little, unless it changes a file a task named in an earlier clause
  makes and no cue word names a task in its own clause ("… out loud and then enhance
  it"); a clause that only sets the scene ("I have a photo …") loses a little unless a
  keyword fired.

``Ranking`` keeps the clause-by-task matrix: ``offered`` narrows the whole list,
``plan_steps`` turns the clauses that ask for a task into the steps of a plan (a
clause whose cue words name two tasks that chain into another medium, "tell me out
loud what is in this picture", gives both)
(thresholds tuned on the even-numbered TaskBench dev records; later choices were
checked on both halves, see the README).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from ..files import SOUND_WORDS, SUFFIX_MODALITY
from ..tasks import MEDIA, TaskType, askers_of, classifier_of, draws, norm_name, reader_of, task_kind
from ..text import LANGUAGE_ASKED, LANGUAGES, MADE_TEXT, QUOTED_RE, READ_AND_MADE, is_question, quoted_passages
from .grammar import passage_answerer

CUES_PATH = Path(__file__).parent / "demos" / "cues.json"
# an ask to change a picture or a text ("can we try transforming it into a cityscape at sunset")
CHANGING = re.compile(r"\b(?:transform|turn|convert|change|edit|restyle|modify|alter)\w*", re.IGNORECASE)
# an ask to make something new ("can you make it?" of a spoken description: the picture is asked for)
MAKING = re.compile(r"\b(?:generate|create|make|draw|paint|render|produce|compose|design|animate)\b|"
                    r"\bshow (?:me|us) (?:what|an?|some|\d+|two|three|a few)\b|\b(?:can|could|may) (?:i|we) see (?:an?|some)\b",
                    re.IGNORECASE)
FILE_RE = re.compile(r"(?<![\w/.-])([\w\-]+(?:/[\w\-]+)*\.(" + "|".join(s[1:] for s in SUFFIX_MODALITY)
                     + r"))\b", re.IGNORECASE)
SENTENCE_RE = re.compile(r"(?<=[.?!;])\s+|\n+")
# "… and <verb> …" starts a new request ("read the text and summarize it")
ACTION_VERBS = (
    "generate", "create", "make", "convert", "translate", "summari[sz]e", "identify", "detect", "classify",
    "transcribe", "describe", "answer", "tell", "read", "say", "turn", "produce", "draw", "extract",
    "estimate", "segment", "edit", "change", "compare", "check", "find", "give", "provide", "write",
    "analy[sz]e", "determine", "recogni[sz]e", "enhance", "improve", "transform", "apply", "use", "chat",
    "discuss", "evaluate", "measure", "calculate", "assess", "compose", "craft", "draft", "design", "paint",
    "speak", "narrate", "caption", "label", "tag", "categori[sz]e", "let", "list", "pull", "count", "sharpen", "trace",
    "brighten", "restore", "fix", "clean", "remove", "add", "rewrite", "reword", "rephrase", "shorten", "upscale",
    "colori[sz]e", "denoise", "box", "circle", "outline", "highlight", "mark", "cut", "crop", "play", "sort", "show",
    "blur", "pixelate", "put", "replace", "swap", "erase")


def _gerund(verb: str) -> str:
    """"create" -> "creating", "summari[sz]e" -> "summari[sz]ing", "cut" -> "cutting"."""
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]+[aeiou][bdgmnprt]", verb):  # one syllable: cut, crop, let
        return verb + verb[-1] + "ing"
    return verb + "ing"


# the same verbs as the user may write them after "help me in/by …" ("by providing a summary and …")
GERUNDS = tuple(_gerund(v) for v in ACTION_VERBS)
# a verb of doing on its own, sharing the next clause's object ("translate and read this aloud")
LONE_VERB_RE = re.compile("|".join(ACTION_VERBS), re.IGNORECASE)
# a clause that opens with a verb of doing, after a polite opener ("please make …", "can you translate …")
ORDER_RE = re.compile(r"^\s*(?:(?:please|pls|now|then|also|and|just|(?:can|could|would|will) (?:you|u))\s+)*(?:"
                      + "|".join(ACTION_VERBS) + r")\b", re.IGNORECASE)
CLAUSE_RE = re.compile(
    r"\s*(?:,\s*|\b)(?:and\s+)?(?:then|after that|afterwards|finally|lastly|additionally|moreover|"
    r"furthermore|secondly|thirdly|besides|as well as)\b"
    r"|,\s+(?:and|but|so|also|plus)\s+|\s+and\s+(?:also\s+)?(?=\w+(?:\s+\w+)?\s+(?:it|the|this|that|them|a|an|my|its|some)\b)"
    r"|\s+and\s+(?=(?:then\s+|after\s+)?(?:\w+ly\s+)?(?:" + "|".join(ACTION_VERBS) + r")\b)"
    r"|\s+and\s+(?=(?:(?:can|could|would|will)\s+(?:you|u)|please|pls)\b)"  # "… and can you …" asks again
    # "… and what are they upset about?", "… and are they happy?": a second question
    r"|\s+and\s+(?=(?:what|who|why|how|where|when|which)\s+(?:is|are|was|were|do|does|did|can|could|should|would|"
    r"will|many|much)\b|(?:is|are|was|were|do|does|did)\s+(?:it|they|he|she|there|these|those|this|that|the|we|you|i)\b)"
    # "what does it mean: '…' also is it a good review?": a second question
    r"|\s+also\s+(?=(?:is|are|was|were|do|does|did|can|could|will|would)\s+(?:it|they|he|she|there|this|that|these|those)\b)"
    # "tell me which companies are mentioned and whether each tweet is positive": a second question
    r"|\s+and\s+(?=whether\s+(?:it|they|he|she|there|each|every|any|the|this|that|these|those|its|their|my)\b)"
    r"|\s+plus\s+(?=(?:an?|some|the|one|two|three|\d+)\s)"
    r"|,\s+", re.IGNORECASE)
MADE_THINGS = r"(?:image|picture|photo|pic|drawing|painting|illustration|video|clip|animation|poem|story|song|audio|voiceover|jingle|tune)s?"
# a second thing made by the same verb ("make a short video of waves, plus a still image of a
# lighthouse"; the nearest verb: "use the description to generate a new image and a short video"):
# the verb is written again, so the second clause says what it asks for
ELLIPSIS_RE = re.compile(r"^(?P<lead>\s*(?:[^,;\x00]*\s)?(?:(?:please|pls|can you|could you|would you)\s+)?(?P<verb>"
                         + "|".join(ACTION_VERBS + GERUNDS) + r")(?P<whom>\s+(?:me|us))?)\b(?P<mid>[^,;\x00]*?)"
                         r"(?P<sep>,?\s+(?:plus|as well as)\s+(?=(?:an?|some|one|two|three|\d+)\s)|"
                         # "show me a joke and an image of a cat": "and" before a thing of another medium
                         r",?\s+and\s+(?=(?:an?|some|one|two|three|\d+)\s+(?:[\w-]+\s+){0,3}" + MADE_THINGS + r"\b))",
                         re.IGNORECASE)
# a list of options the user names ("a complaint, a sales inquiry, or a billing question";
# after a colon, "one of: billing, shipping delay, broken item"): one unit, not clauses
# (an option is a short noun phrase: "…the kitchen, is the stove on or off" is a question, not options)
_ITEM = r"(?<![\w'])(?!(?:is|are|was|were|do|does|did|can|could|will|would|what|which|who|how|why|when|where|please|then|" \
        r"and|but|it|this|that|they|he|she|i|you|we)\b)" \
        r"\w[\w&'/-]*(?: [\w&'/-]+){0,3}"
OPTIONS_RE = re.compile(rf"(?:{_ITEM}, )+{_ITEM},? or {_ITEM}\b|(?<=: )\w+(?: \w+){{0,2}}(?:, \w+(?: \w+){{0,2}}){{2,}}(?=[.?!]|\n|$)",
                        re.IGNORECASE)
# a clause pointing back at what the clause before it asked for ("… and write a poem for it")
POINTS_AT_IT = re.compile(r"\b(?:for|about|to|with|of|on)\s+(?:it|them)\b", re.IGNORECASE)
# a question that ends by naming the choice it asks for: "is it spam or legit?" sorts into labels
# ("is it spam or legit?", "happy or not happy?"); a bare "… or not?" asks yes or no, naming no choice
CHOICE_RE = re.compile(r"\b\w+\s+or\s+(?:not\s+\w+|(?!not\b)\w+)(?:\s+\w+)?\s*[?.!]*\s*$", re.IGNORECASE)

# a yes-or-no question about the thing brought itself ("is this …", "was it …", "does this sound …")
ASKED_OF_IT = re.compile(r"^(?:(?:so|and|but|also|ok|okay|hey)\s+)?(?:is|was|are|were|does|did|do|would|will)\s+"
                         r"(?:this|it|that|these|those)\b", re.IGNORECASE)


def named_choice(clause: str) -> str | None:
    """The two options a question ends by naming ("is this text written by a human or AI?":
    "human or AI"; "was it a kid or an adult": "kid or an adult"; "is this formal or informal?
    '…'": "formal or informal"), None for another clause and for a bare "… or not?"."""
    asked = QUOTED_RE.sub("", clause).strip()  # the text the question is about may follow it: "… informal? 'hey'"
    match = CHOICE_RE.search(asked) if is_question(asked) else None
    return match.group(0).strip(" ?.!") if match else None


# A clause that only sets the scene ("I have a photo …") rarely asks for a task itself.
SCENE_RE = re.compile(r"^(?:so\s+|well\s+|hey\s+|hi\s+)?(?:i'?ve|i have|i had|i got|i recently|i just|there'?s|there is|"
                      r"this is|it'?s|i found|i came|i'm|i am|we have|my|imagine|suppose|lately|"
                      r"(?:i|we) (?:drew|sketched|doodled|scribbled|painted|took|recorded|wrote|made|snapped|shot))\b", re.IGNORECASE)
# … of which one that tells how the user made the file ("we scribbled this at lunch") sets the scene even
# though its verb is a cue word: the clause after it says what to do with the scribble
MADE_BY_USER = re.compile(r"^(?:so\s+|well\s+|hey\s+|hi\s+)?(?:i|we) (?:drew|sketched|doodled|scribbled|painted|took|"
                          r"recorded|wrote|made|snapped|shot) (?:this|these|it|that)\b", re.IGNORECASE)
# a clause that only says a file comes with the request ("Recording attached.") asks for nothing
# or only hands it over ("here's a clip", "here is the recording of it")
ATTACHED_RE = re.compile(r"^(?:[\w'-]+\s+){0,4}(?:is\s+|are\s+)?(?:attached|enclosed|included|below)$|"
                         r"^here(?:'s|\s+is|\s+are)\s+(?:[\w'-]+\s+){0,4}[\w'-]+$|"
                         # "look at this painting and …": the clause hands the file over, the next one asks
                         r"^(?:(?:please|pls|now|so|ok(?:ay)?|can you|could you)\s+)*(?:(?:take|have)\s+a\s+)?"
                         r"(?:look|glance)\s+at\s+(?:this|my|the|these|that|our)\s+(?:[\w'-]+\s+){0,3}[\w'.-]+$|"
                         r"^(?:(?:please|pls|now|so|ok(?:ay)?|can you|could you)\s+)*check\s+out\s+(?:this|my|the|these|that|our)"
                         r"\s+(?:[\w'-]+\s+){0,3}[\w'.-]+$", re.IGNORECASE)
# a step the user asks to be done before the ones named ahead of it: "… but translate it first",
# "summarize it first", "first of all, …", "but before that, …" ("the first page" is a page, not an order)
FIRST_RE = re.compile(r"(?<!\bthe )(?<!\bits )(?<!\bmy )(?<!\bthis )\bfirst(?= of all\b|\s*,|"
                      r"\s*(?:obviously|please|though|of course|thing|off)?\s*$)"
                      r"|\b(?:it|them) first\b|^(?:but |and |oh and |though )?first\b"
                      r"|\bbefore (?:that|this|doing that|you do that)\b", re.IGNORECASE)
# a clause that says what comes later: "before you read it aloud, put it in German"
BEFORE_RE = re.compile(r"^(?:but |and |oh and )?before (?!that\b|this\b|doing that\b)\w+", re.IGNORECASE)
KEYWORD_BONUS = 0.25
MODALITY_BONUS = 0.05
MISSING_INPUT_PENALTY = 0.12
SCENE_PENALTY = 0.15
FIRST_STEP, LATER_STEP = 0.75, 0.5  # clause scores that make a plan step (tuned on TaskBench dev records)
SECOND_CHOICE, SECOND_MARGIN = 0.5, 0.35
ORDERED = 0.45  # the bar for a clause that plainly orders the task a cue word of its names
NAMED_FIRST = 0.65  # the first-step bar for a clause whose best task a cue word of its own names
TIE = 0.05  # scores this close are a tie, which a keyword the user wrote breaks
UNNAMED_CAP = 0.3  # the most a task cues.json marks "only_when_named" scores without its cue word
LEAD = 0.01  # how far a task that a rule puts first leads the one it passes
NO_OPTIONS = 0.0  # the score of a task that chooses among listed options ("needs_options") when none are listed

Embedder = Callable[..., np.ndarray]  # (texts, cache_dir=None) -> unit rows


def mentioned_files(text: str) -> dict[str, str]:
    """File names written in the request ("photo.jpg" -> image), in order of mention."""
    return {m.group(1): SUFFIX_MODALITY["." + m.group(2).lower()] for m in FILE_RE.finditer(text)}


def _repeat_verb(m: re.Match) -> str:
    return f"{m['lead']}{m['mid']}{m['sep']}{m['verb']}{m['whom'] or ''} "


def split_clauses(text: str) -> list[str]:
    """Clauses of a request, in order; each keeps at least two words. Quoted text
    and a list of options (``OPTIONS_RE``) are never split."""
    quoted: list[str] = []

    def hide(match: re.Match) -> str:
        quoted.append(match.group(0))
        return f"\x00{len(quoted) - 1}\x00"

    masked = OPTIONS_RE.sub(hide, QUOTED_RE.sub(hide, text.strip()))
    clauses: list[str] = []
    for sentence in SENTENCE_RE.split(masked):
        pieces = [p for piece in CLAUSE_RE.split(ELLIPSIS_RE.sub(_repeat_verb, sentence, count=1))
                  for p in CLAUSE_RE.split(ELLIPSIS_RE.sub(_repeat_verb, piece or "", count=1))]
        for at, part in enumerate(pieces):
            part = (part or "").strip(" ,;:.!?-")
            if (LONE_VERB_RE.fullmatch(part) and any((p or "").strip() for p in pieces[at + 1:])
                    and re.search(rf"\b{part}\s+and\b", sentence, re.IGNORECASE)):
                part += " it"  # a verb whose object the next clause names: "translate and read this aloud"
            if len(part.split()) >= 2:
                clauses.append(part)
            elif part and clauses:
                clauses[-1] += " " + part
    for _ in range(2):  # a list of options may hold a quote
        clauses = [re.sub(r"\x00(\d+)\x00", lambda m: quoted[int(m.group(1))], c) for c in clauses]
    return clauses or [text.strip()]


def masked_quotes(clause: str) -> str:
    """The clause with quoted text (not a quoted file name) replaced by "it": what is
    quoted is the task's input, not what is asked, and a long quote would drown the
    request in the clause's embedding."""
    return QUOTED_RE.sub(lambda m: m.group(0) if FILE_RE.search(m.group(0)) else "it", clause)


@lru_cache(maxsize=4)
def load_cues(path: str = str(CUES_PATH)) -> dict[str, dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cue_keywords(cues: Mapping[str, dict], task_types: Sequence[TaskType],
                 kinds: Sequence[str] = ("keywords", "modifiers")) -> list[list[re.Pattern]]:
    """Each task type's cue keywords, compiled; ``{languages}`` in a keyword stands for
    the language names (``text.LANGUAGES``), ``{language_asked}`` for a language asked for
    (``text.LANGUAGE_ASKED``). A *modifier* ("in Korean") names its task
    only in a clause whose best keyword-named task does not give text: "summarize this in
    Korean" summarizes (the implied translation follows); "put this in Korean", "into
    German audio" and "read the caption out loud in Spanish" translate."""
    return [[_compiled(p) for kind in kinds for p in _patterns(cues.get(norm_name(t.name), {}), kind)] for t in task_types]


def cue_purposes(cues: Mapping[str, dict], task_types: Sequence[TaskType]) -> list[dict[str, list[re.Pattern]]]:
    """Each task type's purposes, by name, with their keywords: what different people ask of one
    task type and an expert may serve only one of (image-to-text describes a picture or reads the
    text in it). A task type's first purpose is what it is asked for when no keyword names one."""
    return [{name: [_compiled(p) for p in patterns]
             for name, patterns in cues.get(norm_name(t.name), {}).get("purposes", {}).items()} for t in task_types]


def _patterns(cue: Mapping, kind: str) -> list[str]:
    """A task's cue patterns of one kind; its purposes' keywords are keywords too."""
    purposes = [p for patterns in cue.get("purposes", {}).values() for p in patterns] if kind == "keywords" else []
    return [*cue.get(kind, []), *purposes]


def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern.replace("{language_asked}", LANGUAGE_ASKED).replace("{languages}", LANGUAGES), re.IGNORECASE)


@dataclass
class PlanStep:
    """One step of a guided plan: the clause that asks for it and the task types on offer."""

    clause: str
    candidates: list[TaskType]
    own_input: bool = False  # works on what the user brought, not on the step before ("… and a depth map")
    again: bool = False  # a task type an earlier step took, asked here for another purpose ("… and read the text on it")


@dataclass
class Ranking:
    """Scores of every task type for every clause of one request."""

    clauses: list[str]
    task_types: list[TaskType]
    scores: np.ndarray  # (clauses, tasks)
    keyword_hits: np.ndarray  # (clauses, tasks) bool
    files: dict[str, str] = field(default_factory=dict)
    purposes: list[list[str]] = field(default_factory=list)  # (clauses, tasks): what it asks of it (``TaskRanker._purpose``)

    def task_scores(self) -> np.ndarray:
        return self.scores.max(axis=0)

    def scores_by_name(self) -> dict[str, float]:
        """Each task type's best clause score, by name."""
        return {t.name: float(v) for t, v in zip(self.task_types, self.task_scores())}

    def order(self) -> list[TaskType]:
        return [self.task_types[i] for i in np.argsort(-self.task_scores(), kind="stable")]

    def offered(self, k: int) -> list[TaskType]:
        """The top ``k`` task types overall, plus every clause's best and keyword hits."""
        chosen = {int(i) for i in np.argsort(-self.task_scores(), kind="stable")[:k]}
        chosen |= {int(i) for i in self.scores.argmax(axis=1)}
        chosen |= {int(i) for i in np.nonzero(self.keyword_hits.any(axis=0))[0]}
        return [t for i, t in enumerate(self.task_types) if i in chosen]

    def plan_steps(self, per_clause: int = 2, first: float = FIRST_STEP, later: float = LATER_STEP,
                   second: float = SECOND_CHOICE, margin: float = SECOND_MARGIN) -> list[PlanStep]:
        """Candidates for each step of the plan, one step per clause that asks for a task.

        A clause asks for a task when its best score reaches ``first`` (for the first
        step; ``NAMED_FIRST`` when a cue word in the clause names that task and the
        clause does more than set the scene: "what kind of flower is this?", not "I'm
        writing a story"), ``later`` (once a task is planned: a request that asked
        for one thing often asks for more), or ``ORDERED`` when a verb of doing opens the
        clause and a cue word of its names the task ("make this simpler for my 8 year old").
        The clause just before the first step is a step too when a cue word of its names a
        task (scoring at least ``later``) that makes what the first step takes (``_feeding``);
        a later question under the bar may still ask the photo (``_question_left``). A clause whose best task an earlier clause already took
        asks for its best remaining task instead, if that one scores at least
        ``second`` and within ``margin`` of the best, unless its own keyword asks that task
        for another purpose (``_another_purpose``: "… and read the text on it" after "describe
        this photo"), when it is that task again. Each step offers the clause's top
        ``per_clause`` remaining task types, the chosen one first; a cue word breaks a
        tie for the best (``_tie_to_keyword``).

        A second task a cue word names in the same clause is a step of its own when it
        chains into another medium with the first ("tell me out loud what is in this
        picture": a caption, then speech), works on the text the first reads from a file and
        the clause names ("summarize the transcript of this call") or is another kind of thing
        done to the same file the user brought ("a segmentation mask and a depth map": both on the
        photo, ``own_input``). Last, a question whose answer a text-only task takes
        next is answered in text (``_text_for_text_tasks``).
        """
        steps: list[PlanStep] = []
        used: set[int] = set()
        named_below: int | None = None  # the clause just before the first step, if a cue word of its names a task
        for c in range(len(self.clauses)):
            if ATTACHED_RE.match(self.clauses[c]):
                continue
            scores = self.scores[c]
            order = _tie_to_keyword([int(i) for i in np.argsort(-scores, kind="stable")], scores, self.keyword_hits[c])
            own_cue = self.keyword_hits[c, order[0]] and not SCENE_RE.match(self.clauses[c])
            orders = self._orders(c, own_cue)
            bar = (ORDERED if orders and own_cue else later if steps or orders
                   else min(first, NAMED_FIRST) if own_cue else first)
            if scores[order[0]] < bar:
                named_below = order[0] if own_cue and not steps and scores[order[0]] >= later else None
                left = self._question_left(c, steps)
                if left is not None:  # "describe this photo and tell me if the cat is sleeping"
                    used.add(self.task_types.index(left.candidates[0]))
                    steps.append(left)
                continue
            if not steps and named_below is not None:
                steps += self._feeding(c - 1, named_below, self.task_types[order[0]], used)
            if order[0] in used and self._another_purpose(c, order[0], steps):  # "describe this photo and read
                steps.append(PlanStep(self.clauses[c], [self.task_types[order[0]]], again=True))  # the text on it"
                continue
            fresh = [i for i in order if i not in used]
            if order[0] in used and (scores[fresh[0]] < second or scores[order[0]] - scores[fresh[0]] > margin):
                continue
            used.add(fresh[0])
            step = PlanStep(self.clauses[c], [self.task_types[i] for i in fresh[:per_clause]])
            # a second word the user wrote in the same clause asks for its own task
            reads_made = (bool(MADE_TEXT.search(self.clauses[c]) or READ_AND_MADE.search(self.clauses[c]))
                          and _reads_a_file(self.task_types[fresh[0]]))
            chained = [i for i in fresh[1:] if self.keyword_hits[c, i] and scores[i] >= later
                       and (_chains(self.task_types[fresh[0]], self.task_types[i])
                            or (reads_made and set(self.task_types[i].args.values()) == {"text"}))]
            beside = [i for i in fresh[1:] if self.keyword_hits[c, i] and self.keyword_hits[c, fresh[0]]
                      and min(scores[fresh[0]], scores[i]) >= first
                      and _also(self.task_types[fresh[0]], self.task_types[i], set(self.files.values()))]
            named = chained or beside
            if named:
                used.add(named[0])
                also = self.task_types[named[0]]
                extra = PlanStep(self.clauses[c], [also], own_input=not chained)
                chosen, then = step.candidates[0], extra.candidates[0]
                feeds_back = then.output in chosen.args.values() and chosen.output not in then.args.values()
                steps += [extra, step] if feeds_back else [step, extra]
            else:
                steps.append(step)
        return self._text_for_text_tasks(self._in_asked_order(steps), used, margin)

    def _another_purpose(self, c: int, task: int, steps: list[PlanStep], named_before: bool = True) -> bool:
        """Does clause ``c``, whose own keyword names task type ``task``, ask it for another purpose
        than every earlier step that took it ("describe this photo" and "read the text on it": both
        image-to-text, one described and one read, which may need two different experts)? With
        ``named_before``, each earlier step's own keyword must have named the task too: a task a
        clause took by meaning alone has no purpose to tell apart."""
        if not self.purposes or not self.keyword_hits[c, task]:
            return False
        taken = [self.clauses.index(s.clause) for s in steps
                 if s.candidates[0] is self.task_types[task] and s.clause in self.clauses]
        if not taken or (named_before and not all(self.keyword_hits[k, task] for k in taken)):
            return False
        return self.purposes[c][task] not in {self.purposes[k][task] for k in taken}

    def _orders(self, c: int, own_cue: bool) -> bool:
        """Does clause ``c`` plainly order its task: a verb of doing opens it and a cue word of
        its names the task ("Make a short video of waves …"), or it picks by its file name one of
        two or more files of a kind the user brought ("Check whether review.txt is positive, and
        read welcome.txt out loud")? Such a clause is a step at the later-step bar."""
        clause = self.clauses[c]
        kinds = [m for m in self.files.values()]
        picks = any(kinds.count(modality) > 1 and re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", clause, re.I)
                    for name, modality in self.files.items())
        return picks or (own_cue and bool(ORDER_RE.match(clause)))

    def _in_asked_order(self, steps: list[PlanStep]) -> list[PlanStep]:
        """Steps in the order the user asked for, where words say it differs from the order of
        the clauses: a step asked "first" ("read it aloud, but translate it first"; "… oh and
        transcribe it first"; "…; first of all, shorten them") or in the clause after a
        "before …" clause ("before you read it aloud, put it in German") goes as early as what
        it works on allows: before every step it does not need ("transcribe it and read it
        aloud, but translate it first": the transcript, then the translation, then the speech).
        What it works on is a file the user brought (a quote, for text) or an earlier step's
        output. A step whose clause names the text it works from ("… this summary … in English
        first, and then …") stays where it is."""
        index = {c: i for i, c in enumerate(self.clauses)}
        asking = {s.clause for s in steps}
        given = set(self.files.values()) | ({"text"} if any(QUOTED_RE.search(c) for c in self.clauses) else set())
        for j in range(1, len(steps)):
            step, c = steps[j], index.get(steps[j].clause, -1)
            before = self.clauses[c - 1] if c > 0 else ""
            asked_first = (FIRST_RE.search(step.clause) or BEFORE_RE.match(before)
                           or (before not in asking and FIRST_RE.search(before)))
            if not asked_first or MADE_TEXT.search(step.clause):
                continue
            needs, at = set(step.candidates[0].args.values()), j
            while (at > 0 and steps[at - 1].clause != step.clause
                   and needs <= given | {s.candidates[0].output for s in steps[:at - 1]}):
                at -= 1
            steps.insert(at, steps.pop(j))
        return steps

    def _feeding(self, c: int, task: int, head: TaskType, used: set[int]) -> list[PlanStep]:
        """The clause just before the first step, which names its task with a cue word though
        under the first-step bar, is a step when that task makes what the first step takes:
        "clean it up first and then transcribe it", "fix the grammar and then read it aloud";
        or when the first step's clause (the next one) points back at what it makes ("make me a
        birthday card picture and write a short poem for it")."""
        made = self.task_types[task]
        if (made.output not in head.args.values() and not POINTS_AT_IT.search(self.clauses[c + 1])) or task in used:
            return []
        used.add(task)
        return [PlanStep(self.clauses[c], [made])]

    def _text_for_text_tasks(self, steps: list[PlanStep], used: set[int], margin: float) -> list[PlanStep]:
        """A question feeding a task that works on text alone is answered in text:
        "how many candles are on this cake? tell me out loud" counts by answering the
        question (text to speak), not by drawing boxes the speech cannot read. The step
        takes its clause's best task that reads the same files and gives text, if that
        one scores within ``margin`` of the chosen task."""
        by_task = {id(t): i for i, t in enumerate(self.task_types)}
        for step, then in zip(steps, steps[1:]):
            chosen, reader = step.candidates[0], then.candidates[0]
            files = chosen.file_inputs
            if (step.own_input or then.own_input or chosen.output == "text" or not files
                    or not is_question(step.clause)
                    or set(reader.args.values()) != {"text"} or QUOTED_RE.search(then.clause)):
                continue
            c, best = self.clauses.index(step.clause), by_task[id(chosen)]
            fits = [i for i, t in enumerate(self.task_types) if i not in used and t.output == "text"
                    and t.file_inputs == files
                    and self.scores[c, i] >= self.scores[c, best] - margin]
            if fits:
                swap = max(fits, key=lambda i: self.scores[c, i])
                used.discard(best)
                used.add(swap)
                step.candidates = [self.task_types[swap], *(t for t in step.candidates if t is not chosen)]
        return steps


    def fallback_step(self, per_clause: int = 1) -> PlanStep:
        """The one step of a request that must be planned although no clause clearly asks
        for a task: the best task overall with its clause, or one a keyword the user wrote
        names if it scores as well (within ``TIE``), and of those one that takes a file the
        user brought if it scores as well ("here's a photo of my fridge, what could I cook?"
        asks about the photo, not for a new picture)."""
        asked = self._asked_of_a_text()
        if asked is not None:
            return asked
        attached = np.array([bool(ATTACHED_RE.match(c)) for c in self.clauses])
        scores = np.where(attached[:, None], -np.inf, self.scores) if not attached.all() else self.scores
        if self.keyword_hits.any():
            named = np.where(self.keyword_hits, scores, -np.inf)
            if named.max() >= scores.max() - TIE:
                scores = named
        brought = set(self.files.values())
        takes = np.array([bool(brought & set(t.args.values())) for t in self.task_types])
        if brought and takes.any():
            # a file and no clear ask: work on the file, if that scores as well, or if the best task would
            # make something anew that no word asks to make ("the puppy does this all night, is she
            # lonely?" with a recording is not a film to make)
            on_files = np.where(takes[None, :], scores, -np.inf)
            top_c, top = np.unravel_index(int(np.argmax(scores)), scores.shape)
            top_task = self.task_types[int(top)]
            anew = (top_task.output in MEDIA and set(top_task.args.values()) == {"text"}
                    and not self.keyword_hits[int(top_c), int(top)] and not any(MAKING.search(c) for c in self.clauses))
            if on_files.max() >= scores.max() - TIE or anew:
                scores = on_files
        c, best = np.unravel_index(int(np.argmax(scores)), scores.shape)
        named = bool(self.keyword_hits[int(c), int(best)])  # a word the user wrote names the task
        heard = (None if named else self._asked_of_a_recording(self.task_types[int(best)])) \
            or self._asked_of_a_picture(self.task_types[int(best)], self.clauses[int(c)], named)
        if heard is not None:
            return heard
        rest = [t for t in self.order() if t is not self.task_types[best]]
        return PlanStep(self.clauses[int(c)], [self.task_types[int(best)], *rest][:per_clause])

    def fallback_steps(self, per_clause: int = 1) -> list[PlanStep]:
        """The fallback step, and after it a task a cue word of its clause names that turns the
        step's output into a file of another kind ("I'm visually impaired. Could you tell me out
        loud what's in this photo my daughter sent?": the question asked of the photo, then its
        answer spoken), as ``plan_steps`` chains two tasks one clause names; and the step's task
        again where another clause's keyword asks it for another purpose (``_another_purpose``)."""
        step = self.fallback_step(per_clause)
        c, chosen = self.clauses.index(step.clause), step.candidates[0]
        then = [t for i, t in enumerate(self.task_types) if self.keyword_hits[c, i] and t is not chosen
                and chosen.output in t.args.values() and t.output in MEDIA and t.output != chosen.output]
        if not then and _reads_a_file(chosen):  # "what's this recording about?": its words, then their gist
            then = [t for i, t in enumerate(self.task_types) if self.keyword_hits[c, i]
                    and set(t.args.values()) == {"text"} and t.output == "text"]
        steps = [step, PlanStep(step.clause, then[:1])] if then else [step]
        task = self.task_types.index(chosen)
        again = next((k for k in range(len(self.clauses)) if k != c and self.scores[k, task] >= LATER_STEP
                      and self._another_purpose(k, task, steps, named_before=False)), None)
        if again is None:  # "what's in this picture? and is there anything written on it?": both asked of it
            return steps
        more = PlanStep(self.clauses[again], [chosen], again=True)
        return [more, *steps] if again < c else [*steps, more]

    def _asked_of_a_recording(self, best: TaskType) -> PlanStep | None:
        """A question asked of a recording the user brought, when no clause clearly asks for a
        task, no word of the user's names the best one ("does what the minister says match the
        official quote '…'?" compares the transcript with the quote), and the best one overall is
        not one that takes a recording, nor has a kind that
        does ("which bird is that?" is audio classification; "my landlord left a voicemail …
        can u check how much" is not): its words are read (``tasks.reader_of``), for the planner to answer
        the question from them (``implied.add_question``). When the best task makes a new recording
        (the noise taken out), which answers no question, the recording is classified instead, and
        ``add_question`` reads its words when the question is not about the sound."""
        reader, hearer = reader_of(self.task_types, "audio"), classifier_of(self.task_types, "audio")
        asked = self._open_question()
        sound = any("audio" in t.args.values() and task_kind(t) == task_kind(best) for t in self.task_types)
        if reader is None or asked is None or "audio" not in self.files.values():
            return None
        if sound and best.output != "text" and hearer is not None:  # a recording made anew answers no
            return PlanStep(asked, [hearer])  # question ("… a weird rattling noise, is it broken?"): heard
        return None if sound else PlanStep(asked, [reader])

    def _asked_of_a_picture(self, best: TaskType, clause: str, named: bool = False) -> PlanStep | None:
        """A question asked of a picture the user brought, when no clause clearly asks for a task
        and the best one overall does not look at pictures ("what does this error message
        mean?" with a screenshot is not a sentiment to classify) or draws a new one ("does this
        photo look photoshopped?" is not an edit of it, when the question is the clause that
        drew it, or no word of the user's names the drawing nor asks to make or change anything:
        "how much flour goes in this? her handwriting is awful" is no scribble to draw from):
        asked of the picture, by the
        task that answers questions about one that the clause puts higher (visual or document
        question answering)."""
        asked = self._open_question()
        if asked is None or "image" not in self.files.values():
            return None
        unasked = not named and not any(MAKING.search(c) or CHANGING.search(c) for c in self.clauses)
        if "image" in best.args.values() and not (draws(best) and (clause == asked or unasked)):  # a picture made anew
            return None  # answers no question
        askers = askers_of(self.task_types, "image")
        if not askers:
            return None
        return self._asked_by(self.clauses.index(asked), askers)

    def _asked_by(self, c: int, askers: Sequence[TaskType]) -> PlanStep:
        """Clause ``c`` as a step of the one among ``askers`` that the clause puts highest."""
        return PlanStep(self.clauses[c], [max(askers, key=lambda t: self.scores[c][self.task_types.index(t)])])

    def _question_left(self, c: int, steps: list[PlanStep]) -> PlanStep | None:
        """A later clause under the bar that asks a question of the one picture the request
        brings and no step asks yet, when its best task asks, does not look at pictures, or draws
        a new one, which answers no question ("describe this photo and tell me if the cat is
        sleeping" drew a sleeping cat): asked of the picture, by the task that answers
        questions about one that the clause puts higher. Not a question that names the choice
        it asks for."""
        clause, best = self.clauses[c], self.task_types[int(np.argmax(self.scores[c]))]
        askers = askers_of(self.task_types, "image")
        if (not steps or not askers or list(self.files.values()) != ["image"] or not is_question(clause)
                or CHOICE_RE.search(clause) or ("image" in best.args.values() and not draws(best) and best not in askers)
                or any(step.candidates[0] in askers for step in steps)):  # the picture is asked already
            return None
        return self._asked_by(c, askers)

    def _asked_of_a_text(self) -> PlanStep | None:
        """A question asked of a text the user brought, as a file or quoted (a passage,
        ``text.quoted_passages``), when no clause clearly asks
        for a task: answered from that text ("how much sugar do I need?", "read my notes and tell me
        what I should bring", "what year did the bridge open? '…'"), by the task that answers a
        question from a passage; not a question that names the choice it asks for ("is it spam or legit?")."""
        answerer = passage_answerer(self.task_types)
        asked = self._open_question()
        a_text = "text" in self.files.values() or bool(quoted_passages(" ".join(self.clauses)))
        if answerer is None or asked is None or not a_text:
            return None
        if self.keyword_hits[self.clauses.index(asked)].any():  # "is this email spam or not?": a cue names its task
            return None
        return PlanStep(asked, [answerer])

    def _open_question(self) -> str | None:
        """The first clause that asks a question, not one that names the choice it asks for."""
        return next((c for c in self.clauses if is_question(c) and not CHOICE_RE.search(c)), None)


def _also(first: TaskType, other: TaskType, brought: set[str]) -> bool:
    """Do two tasks of different kinds that one clause names both belong in the plan
    although they take the same inputs: two things done to a file the user brought
    ("a segmentation mask and a depth map"; of a text file, "a short summary and a list of every
    person mentioned")? Not "classify it in a table": image and
    tabular classification are one ask by two names. (Two things made from one text,
    "an image and a short video of it", were tried too: on TaskBench's records the
    second is more often a word for the first, "an illustrative video".)"""
    files = first.file_inputs or ({"text"} & brought)
    return (bool(files) and set(first.args.values()) == set(other.args.values()) and files <= brought
            and task_kind(first) != task_kind(other))


def _tie_to_keyword(order: list[int], scores: np.ndarray, hits: np.ndarray) -> list[int]:
    """``order`` with a task a cue word names first when it ties (within ``TIE``) with a
    best task no cue word names: "clean up the ums and grammar" is rewriting text."""
    if hits[order[0]]:
        return order
    named = next((i for i in order[1:] if hits[i] and scores[order[0]] - scores[i] <= TIE), None)
    return order if named is None else [named, *(i for i in order if i != named)]


def _reads_a_file(task: TaskType) -> bool:
    """Does ``task`` turn a picture or a recording into text (a caption, a transcript)? A clause
    that names such a text as what it works on ("summarize the transcript of this call") asks
    for the text task, with the reading before it."""
    takes = set(task.args.values())
    return task.output == "text" and bool(takes) and takes <= {"image", "audio"}


def _chains(first: TaskType, other: TaskType) -> bool:
    """Do two tasks of one clause make a chain into another medium (a caption, then speech)?"""
    if first.output == other.output:
        return False
    return other.output in first.args.values() or first.output in other.args.values()


class TaskRanker:
    """Ranks task types for requests; task texts are embedded once per ranker."""

    def __init__(self, task_types: Sequence[TaskType], cues: Mapping[str, dict] | None = None,
                 embed: Embedder | None = None, cache_dir: Path | None = None):
        if embed is None:
            from ..embeddings import embed
        self.task_types = list(task_types)
        self.embed = embed
        cues = load_cues() if cues is None else cues
        self.keywords = cue_keywords(cues, self.task_types, ("keywords",))
        self.modifiers = cue_keywords(cues, self.task_types, ("modifiers",))
        self.bare = cue_keywords(cues, self.task_types, ("bare_keywords",))
        self.purposes = cue_purposes(cues, self.task_types)
        self._gives_text = np.array([t.output == "text" for t in self.task_types])
        self._takes_audio = np.array(["audio" in t.args.values() for t in self.task_types])
        # a task only a cue word asks for (fill-mask needs a blank to fill: "filler words" are not one)
        self.named_only = np.array([bool(cues.get(norm_name(t.name), {}).get("only_when_named")) for t in self.task_types])
        # a task that chooses among options the user lists (zero-shot labels) needs a list to choose from
        self.needs_options = np.array([bool(cues.get(norm_name(t.name), {}).get("needs_options"))
                                       for t in self.task_types])
        texts, owner = [], []
        for index, t in enumerate(self.task_types):
            phrases = cues.get(norm_name(t.name), {}).get("phrases", [])
            for text in [f"{t.name.replace('-', ' ')}: {t.description}", *phrases]:
                texts.append(text)
                owner.append(index)
        self._owner = np.array(owner)
        self._vectors = self.embed(texts, cache_dir=cache_dir)

    def rank(self, request: str, files: Mapping[str, str] | None = None) -> Ranking:
        files = {**mentioned_files(request), **dict(files or {})}
        clauses = split_clauses(request)
        sims = self.embed([masked_quotes(c) for c in clauses]) @ self._vectors.T  # (clauses, texts)
        scores = np.full((len(clauses), len(self.task_types)), -1.0, dtype=np.float32)
        for index in range(len(self.task_types)):
            scores[:, index] = sims[:, self._owner == index].max(axis=1)
        keywords = self.keywords if files else [k + b for k, b in zip(self.keywords, self.bare)]
        hits = np.array([[any(p.search(c) for p in pats) for pats in keywords] for c in clauses], dtype=bool)
        modified = np.array([[any(p.search(c) for p in pats) for pats in self.modifiers] for c in clauses], dtype=bool)
        scores += self._modality_adjustment(set(files.values()))
        named = np.where(hits, scores, -np.inf).argmax(axis=1)  # each clause's best task a keyword names
        text_named = hits.any(axis=1) & self._gives_text[named]
        hits |= modified & ~text_named[:, None]
        scores += KEYWORD_BONUS * hits
        scores += (MISSING_INPUT_PENALTY + MODALITY_BONUS) * self._made_before(hits, set(files.values()))
        unnamed = self.named_only[None, :] & ~hits
        scores[unnamed] = np.minimum(scores[unnamed], UNNAMED_CAP)
        if "audio" not in files.values() and not SOUND_WORDS.search(request):  # no sound to work on
            scores[:, self._takes_audio] = np.minimum(scores[:, self._takes_audio], UNNAMED_CAP)
        # a question of a text that ends by naming two options, where no cue word names a task, sorts the
        # text into them ("is this text written by a human or AI?"); a recording or a picture is asked instead
        choice = np.array([named_choice(c) is not None and not hits[i].any() for i, c in enumerate(clauses)])
        choice &= set(files.values()) <= {"text"} and bool(files or QUOTED_RE.search(request))
        hits |= choice[:, None] & self.needs_options[None, :]
        if not OPTIONS_RE.search(request) and not choice.any():  # nothing to choose among: it cannot run
            scores[:, self.needs_options & ~hits.any(axis=0)] = NO_OPTIONS
        else:  # options listed in a clause where a cue names the task that chooses among them: a second
            # cue, and that task leads the others named there ("…is it spam, a personal message, or a work request?")
            listed = np.array([bool(OPTIONS_RE.search(c)) for c in clauses]) | choice
            chooser = hits & self.needs_options[None, :] & listed[:, None]
            scores += KEYWORD_BONUS * chooser
            others = np.where(hits & ~self.needs_options[None, :], scores, -np.inf).max(axis=1, keepdims=True)
            # a two-way question about the text itself ("is this formal or informal?") sorts it, whatever scores higher
            of_it = np.array([bool(choice[i] and ASKED_OF_IT.match(c)) for i, c in enumerate(clauses)])
            others = np.where(of_it[:, None], scores.max(axis=1, keepdims=True), others)
            scores = np.where(chooser, np.maximum(scores, others + LEAD), scores).astype(np.float32)
        scene = np.array([bool(SCENE_RE.match(c)) and (not hits[i].any() or (len(clauses) > 1 and bool(MADE_BY_USER.match(c))))
                          for i, c in enumerate(clauses)])
        scores -= SCENE_PENALTY * scene[:, None]
        return Ranking(clauses, self.task_types, scores, hits, files, [[self._purpose(c, i) for i in range(len(self.task_types))]
                                                                       for c in clauses])

    def _purpose(self, clause: str, index: int) -> str:
        """What ``clause`` asks of task type ``index``: the one purpose a keyword of the clause
        names, else the task's first purpose ("" for a task without purposes)."""
        purposes = self.purposes[index]
        named = [name for name, patterns in purposes.items() if any(p.search(clause) for p in patterns)]
        return named[0] if len(named) == 1 else next(iter(purposes), "")

    def _made_before(self, hits: np.ndarray, supplied: set[str]) -> np.ndarray:
        """(clauses, tasks): the task changes a file of a kind nobody brought, which a task a cue word
        names in an earlier clause makes, in a clause where no cue word names a task ("make it into an
        audio and enhance it": the speech is there to enhance). Such a task is scored as one whose
        input the user brought."""
        made = np.zeros(hits.shape, dtype=bool)
        outputs: set[str] = set()
        for c in range(hits.shape[0]):
            if not hits[c].any():
                made[c] = [t.output in t.file_inputs and not t.file_inputs & supplied
                           and t.file_inputs <= supplied | outputs for t in self.task_types]
            outputs |= {self.task_types[i].output for i in np.nonzero(hits[c])[0]}
        return made

    def _modality_adjustment(self, supplied: set[str]) -> np.ndarray:
        adjust = np.zeros(len(self.task_types), dtype=np.float32)
        for index, t in enumerate(self.task_types):
            if t.file_inputs & supplied:
                adjust[index] += MODALITY_BONUS
            elif t.file_inputs:
                adjust[index] -= MISSING_INPUT_PENALTY
        return adjust
