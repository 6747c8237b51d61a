"""The rails: a plan written one task per step, each step typed, most steps forced.

A small controller plans well only inside firm rails, so this writer leaves it
little to decide:

* **guided steps** — one step per clause that asks for a task (``Ranking.plan_steps``),
  in clause order, each offering that clause's best task type (``per_clause`` of
  them when a stronger controller should choose); unguided, every step offers the
  top-ranked types and the controller may end the plan;
* **typed choices** — at each position the continuation may only be what
  ``grammar.step_choices`` allows: ``<resource>-j`` where task *j*'s output fits
  the slot (a guided step continues from the latest such output), files of the
  slot's modality, texts from the request (quoted words, the text after a colon,
  the clause, the whole request) or the previous answer when the request points
  back to it;
* **forced steps** — a step with a single possible continuation is written
  without asking the controller; a step whose file input nothing supplies gets a
  producer first (no image: draw one), unless the user brought a file of another
  kind that a task of the same kind takes: "what animal is that?" of a recording
  is audio classification, not a picture drawn from its transcript and classified,
  and a question about a voice note is answered from its transcript;
* **read what was brought** — a step that works on text alone, when the user
  brought a file this turn that nothing in the plan uses and the clause names no
  text of its own, reads the file first ("translate the text on this menu":
  the menu's text, then the translation; ``tasks.READERS``).

``write`` returns the plan text (a JSON list); the planner parses and repairs it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..cancel import CancelToken
from ..files import FILE_NOUNS, SPOKEN_WORDS
from ..tasks import READERS, TaskType, feeds_well, named_output, norm_name, reader_of, task_kind
from ..text import MADE_TEXT, is_question, questions, quoted_texts
from . import grammar
from .implied import ABOUT_WORDS, SEEN
from .options import PlanningOptions
from .ranking import OPTIONS_RE, ORDER_RE, PlanStep, Ranking, named_choice, split_clauses

FILE_LIKE = re.compile(r"^[\w\-/]+\.\w{2,4}$")
COLON_RE = re.compile(r":\s+([^:'\"“”\n]{8,400}?)\s*$", re.MULTILINE)
# the lines after a question or a colon, each a text to work on ("do these mean the same?\n1) … \n2) …")
LINES_RE = re.compile(r"[?:][ \t]*((?:\n[ \t]*\S[^\n]*){1,12})")
LIST_MARK = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+")
MAX_REQUEST_TEXT = 300
MAX_ANSWER_QUOTE = 600  # as much of an answer as the chat log keeps (HistoryStore.chat_history)
# a clause asking for all of a file's words ("… and then read the whole thing out to me" after a
# question about a bill): the file is read for it, even though an earlier step already gave text
WHOLE_FILE = re.compile(rf"\b(?:the\s+(?:whole|entire|full)\s+(?:thing|text|bill|{FILE_NOUNS['image']}|{FILE_NOUNS['audio']})"
                        r"|all\s+of\s+it|every\s+word\s+of\s+it)\b", re.IGNORECASE)
READER_MARGIN = 0.1  # how much better another file-reading task must rank than the plain reader
REFERS_BACK = re.compile(r"\b(that|it|this|these|those|the (answer|result|reply|text|summary|transcript|"
                         r"translation|caption|description)|above|previous)\b", re.IGNORECASE)


# a word that stands for a thing another clause names
STANDS_FOR = re.compile(r"\b(?:it|them)\b", re.IGNORECASE)


def quoted_spans(request: str) -> list[str]:
    """Texts the user put in quotes (not file names): likely task inputs."""
    spans = quoted_texts(request)
    return list(dict.fromkeys(s.strip() for s in spans if s.strip() and not FILE_LIKE.match(s.strip())))


def request_texts(request: str) -> list[str]:
    """Spans of the request a text argument may be: quoted words, the text after a
    colon, each line after a question or a colon (list marks left out), the whole
    request when it is short, the lists of options it names and the questions it asks."""
    spans = quoted_spans(request)
    spans += colon_texts(request)
    spans += listed_lines(request)
    if len(request) <= MAX_REQUEST_TEXT:
        spans.append(request.strip())
    spans += option_lists(request)
    spans += questions(request)
    return list(dict.fromkeys(s for s in spans if s))


# words that lead into a list of options rather than belong to its first option
OPTIONS_LEAD = re.compile(r"^.*\b(?:as|into|in|under|between|whether|if|either|like|about|for|of|is|are|be|"
                          r"it'?s|that'?s|they'?re|he'?s|she'?s)\s+", re.IGNORECASE)


def option_lists(request: str) -> list[str]:
    """The lists of options the user names ("if it's a complaint, a sales inquiry, or a
    billing question": "a complaint, a sales inquiry, or a billing question"), each as
    written, without the words that lead into it."""
    listed = [OPTIONS_LEAD.sub("", m.group(0)).strip() for m in OPTIONS_RE.finditer(request)]
    return listed + [c for c in map(named_choice, split_clauses(request)) if c]


def colon_texts(request: str) -> list[str]:
    """The texts after a colon to the end of their line, three words or more ("summarize
    this: the meeting moved to Friday")."""
    return [m.group(1).strip() for m in COLON_RE.finditer(request) if len(m.group(1).split()) >= 3]


def listed_lines(request: str) -> list[str]:
    """The lines after a question or a colon that carry a text (three words or more),
    list marks left out: "do these mean the same?\n1) … \n2) …"; or the items of a list
    numbered on one line ("… the same thing? 1) … 2) …")."""
    lines = [LIST_MARK.sub("", line).strip() for m in LINES_RE.finditer(request)
             for line in m.group(1).splitlines() if len(line.split()) >= 3]
    return lines or inline_items(request)


INLINE_MARK = re.compile(r"(?:^|(?<=\s))\(?(\d{1,2})[.)]\s+")


def inline_items(request: str) -> list[str]:
    """The items of a list numbered 1, 2 … on one line, each three words or more ("are these
    saying the same thing? 1) the meeting got pushed 2) we moved the meeting")."""
    marks = list(INLINE_MARK.finditer(request))
    numbered = [m for n, m in enumerate(marks) if m.group(1) == str(n + 1)]
    if len(numbered) < 2 or len(numbered) != len(marks):
        return []
    ends = [m.start() for m in numbered[1:]] + [len(request)]
    items = [request[m.end():end].strip(" ,;") for m, end in zip(numbered, ends)]
    return items if all(len(i.split()) >= 3 for i in items) else []


def last_answer(history: Sequence[dict]) -> str:
    """The previous answer's text, as a follow-up may take it ("translate that"); a first
    line that only introduces it ("What memo.wav says:") is left out."""
    answers = [str(t.get("content", "")).strip() for t in history if t.get("role") == "assistant"]
    last = answers[-1] if answers else ""
    last = re.sub(r"^[^\n]{1,80}:\n\s*\n", "", last, count=1).strip()
    return last if 0 < len(last) <= MAX_ANSWER_QUOTE else ""


def points_back(request: str, history: Sequence[dict]) -> bool:
    return bool(last_answer(history)) and bool(REFERS_BACK.search(request)) and not quoted_spans(request)


def slot_texts(request: str, history: Sequence[dict]) -> list[str]:
    """Texts a text slot may take: spans of the request, or — when the request points
    back ("read that aloud") and quotes nothing — the previous answer."""
    last = last_answer(history)
    if points_back(request, history):
        return [last]
    return request_texts(request) + ([last] if last else [])


@dataclass
class Rails:
    """One request's step-by-step writing: what it may use, and the controller that chooses."""

    controller: object
    task_types: Sequence[TaskType]
    request: str
    history: Sequence[dict]
    files: Mapping[str, str]  # every file the plan may use (this turn's and the chat log's)
    must_plan: bool  # the request brings files or asks for a task: an empty plan is not allowed
    ranking: Ranking | None
    offered: Sequence[TaskType]
    messages: list[dict]
    max_tasks: int = PlanningOptions.max_tasks
    step_tokens: int = 120
    guided: bool = True
    per_clause: int = 1
    free_text: bool = False
    edge_ok: object = None
    attachments: Mapping[str, str] = field(default_factory=dict)  # this turn's own files
    steps: list[dict] = field(default_factory=list)  # clause -> task types, for the trace
    calls: int = 0  # steps where a real choice remained
    repeats: set[str] = field(default_factory=set)  # task types written twice on purpose (``PlanStep.again``)

    @property
    def by_name(self) -> dict[str, TaskType]:
        return {t.name: t for t in self.task_types}

    def write(self, cancel: CancelToken) -> str:
        texts = slot_texts(self.request, self.history)
        planned = self._steps()
        self.steps = [{"clause": s.clause, "tasks": [t.name for t in s.candidates]} for s in planned or []]
        queue = list(planned) if planned is not None else None
        reply, earlier, helped = "[", [], set()
        while len(earlier) < self.max_tasks and (queue is None or queue):
            cancel.check()
            step = queue.pop(0) if queue is not None else None
            step = (self._from_made_text(step, earlier) or step) if step is not None else None
            reader = None if step is None else (self._whole_reader(step, earlier) if id(step) in helped
                                                else self._reader(step, earlier, reply, texts, queue))
            if reader is not None:  # "translate the text on this menu": read the menu first
                helped.add(id(step))
                queue[:0] = [reader, step]
                continue
            choices = self._choices(step, earlier, texts, allow_end=step is None and (bool(earlier) or not self.must_plan),
                                    used=texts_used(reply))
            if not choices.alternatives:
                if step is None:
                    break
                counterpart = None if id(step) in helped else self._counterpart(step)
                if counterpart is not None:  # "what animal is that?" of a recording
                    queue[:0] = [counterpart]
                    continue
                producer = None if id(step) in helped else self._producer(step, earlier)
                if producer is not None:  # e.g. "segment a castle" with no image: draw one first
                    helped.add(id(step))
                    # a restyle with no picture at hand ("write a haiku and turn it into a picture") is the
                    # picture drawn: not drawn, then restyled
                    restyle = norm_name(step.candidates[0].name) == "image-to-image"
                    queue[:0] = [producer] if restyle and producer.candidates[0].output == "image" else [producer, step]
                continue
            self.calls += choices.forced() is None
            # a step may copy long texts (a question and its passage): never cut it off mid-way
            budget = max(self.step_tokens, choices.longest())
            piece = self.controller.choose(choices, self.messages, reply, max_tokens=budget, cancel=cancel)
            task = read_step(piece, self.by_name)
            if task is None:
                break
            reply += piece
            if step is not None and step.again:
                self.repeats.add(task.name)
            earlier.append(task)
        return reply + "]"

    def _steps(self) -> list[PlanStep] | None:
        """Guided steps from the ranking; None lets the controller choose freely."""
        if self.ranking is None or not self.guided:
            return None
        steps = self.ranking.plan_steps(self.per_clause)
        if not steps and self.must_plan:
            steps = self.ranking.fallback_steps(self.per_clause)
        return steps or None

    def _choices(self, step, earlier, texts, allow_end, used=frozenset()):
        pool = step.candidates if step is not None else self.offered
        again = step is not None and step.again  # asked for another purpose: the same task type once more
        candidates = [t for t in pool if again or t.name not in {e.name for e in earlier}]
        # a text the clause names that an earlier task already took is that task's input:
        # this step continues from an output instead
        local = named_in(step.clause, texts, self.files) - set(used) if step is not None else None
        if local is not None:  # a text file the clause names by what it is ("… the same as my notes?")
            local |= {name for name, modality in self.files.items()
                      if modality == "text" and name not in used and names_file(step.clause, name, modality)}
        if step is not None and step.clause not in texts and not points_back(self.request, self.history):
            texts = texts + [step.clause]
        if step is not None and len(self.steps) > 1 and ORDER_RE.match(step.clause):  # a request of several
            texts = _own_words_first(texts, step.clause, self.request)  # orders: this step's own, before all
        if step is not None:
            question = self._whole_question(step)
            if step.clause in texts and _asks_of_a_file(step):  # the question, not the whole request
                texts = [question] + [t for t in texts if t != step.clause]
            elif local is not None and _asks_of_a_text(step):  # the question beside the passage
                texts, local = [question] + [t for t in texts if t != question], local | {question}
        edge_ok = (lambda source, target: False) if step is not None and step.own_input else self.edge_ok or feeds_well
        if step is not None and step.clause in texts and _asks_of_a_file(step):  # "… and tell me if there's a dog
            linked = edge_ok  # in it": the clause is the question; an earlier text is not asked instead
            edge_ok = lambda source, target: source.output != "text" and linked(source, target)  # noqa: E731
        named = named_output(step.clause, earlier) if step is not None else None
        texts_made = [t for t in earlier if t.output == "text"]
        if named is not None and texts_made[-1] is not named:  # "… and read the english caption out loud": the
            linked = edge_ok  # caption, not the translation made after it
            edge_ok = lambda source, target: (source.output != "text" or source is named) and linked(source, target)  # noqa: E731
        spelled = (named_in(step.clause, (), self.files) | self._same_file(step.clause)) if step is not None else set()
        files = self.files
        if step is not None and points_back(self.request, self.history):  # "now translate the summary": the
            files = {name: modality for name, modality in files.items()  # previous answer, not the text file
                     if modality != "text" or name in self.attachments  # an earlier turn brought
                     or names_file(step.clause, name, modality)}
        return grammar.step_choices(len(earlier), candidates, earlier, files, texts, allow_end=allow_end,
                                    free_text=self.free_text, edge_ok=edge_ok, local=local, spelled=spelled,
                                    quoted=quoted_spans(self.request))

    def _whole_question(self, step: PlanStep) -> str:
        """The question a step asks: its clause, or the whole question sentence the clause is part
        of when no other step's clause is in it ("when was this letter written and who signed it?":
        both halves asked of the letter, not the first alone)."""
        own = step.clause + "?" if step.clause + "?" in self.request else step.clause
        others = [s["clause"] for s in self.steps if s["clause"] != step.clause]
        whole = next((q for q in questions(self.request)
                      if step.clause in q and q != step.clause and not any(o in q for o in others)), "")
        return whole or own

    def _reader(self, step, earlier, reply, texts, later=()):
        """A step reading a file this turn brought, for a step that works on text alone
        when nothing else gives it text: the clause names fewer texts of its own than the
        task takes ("does what I said in this memo match the line '…'?" names one of two),
        no earlier task made text, and no task written or still to come uses the file. After
        an earlier text, only a clause that asks for all of the file's words (``_whole_reader``)."""
        task = step.candidates[0]
        if set(task.args.values()) != {"text"}:
            return None
        if any(t.output == "text" for t in earlier):
            return self._whole_reader(step, earlier)
        named = {t for t in named_in(step.clause, texts, {})
                 if not grammar.is_list(t) and not is_question(t)} - {self.request.strip()}
        if len(named) >= len(task.args):
            return None
        used = files_used(reply)
        planned = {t.name for s in later for t in s.candidates[:1]}
        for name, modality in self.attachments.items():
            if modality == "text":  # a text file is read as it is: the step's text slot takes it
                continue
            reader = self._best_reader(modality, planned)
            reading_later = next((s for s in later if reader is not None and s.candidates[:1] == [reader]), None)
            if named and name not in used and reading_later is not None and isinstance(later, list):
                later.remove(reading_later)  # the file gives the text the clause lacks: read it first
                return reading_later
            wanted_later = (any(modality in t.args.values() for s in later for t in s.candidates[:1])
                            and not names_file(step.clause, name, modality))
            if (name not in used and not wanted_later and reader is not None
                    and reader.name not in {e.name for e in earlier}):
                asks = set(reader.args.values()) == {modality, "text"}  # the question asked of the file
                return PlanStep((asks and self._picture_question()) or step.clause, [reader])
        return None

    def _whole_reader(self, step, earlier) -> PlanStep | None:
        """A step reading the one picture or recording this turn brought, for a step on text
        alone whose clause asks for all of its words (``WHOLE_FILE``) after earlier steps gave
        other text, unless it was read already."""
        media = [m for m in self.attachments.values() if m in READERS]
        whole = set(step.candidates[0].args.values()) == {"text"} and WHOLE_FILE.search(step.clause)
        reader = reader_of(self.task_types, media[0]) if len(media) == 1 and whole else None
        if reader is None or reader.name in {e.name for e in earlier}:
            return None
        return PlanStep(step.clause, [reader])

    def _same_file(self, clause: str) -> set[str]:
        """The file a clause names as "the same photo" or "the original recording": the one
        file of that kind the user brought, not an earlier step's output ("find the chairs in
        this photo and give me a depth map of the same photo": both take the photo)."""
        named = set()
        for modality in {m for m in self.files.values() if m != "text"}:
            kind = [name for name, m in self.files.items() if m == modality]
            nouns = FILE_NOUNS.get(modality)
            if len(kind) == 1 and nouns and re.search(rf"\b(?:same|original|very same)\s+(?:{nouns})s?\b", clause, re.I):
                named.add(kind[0])
        return named

    def _best_reader(self, modality: str, planned: set[str] = frozenset()) -> TaskType | None:
        """The task that reads a file of ``modality`` into text: the plain reader
        (``READERS``) unless the request asks clearly more for another task taking
        that file and giving text ("what is the main subject of this picture") that is not
        ``planned`` as a step of its own ("translate the memo and tell me if the caller
        sounds happy": the sound is classified, and the memo's words are translated)."""
        plain = reader_of(self.task_types, modality)
        if self.ranking is None:
            return plain
        scores = self.ranking.scores_by_name()
        fits = [t for t in self.task_types if t.output == "text" and modality in t.args.values()
                and set(t.args.values()) <= {modality, "text"} and t.name not in planned]
        asker = next((t for t in fits if norm_name(t.name) == "visual-question-answering"), None)
        if modality == "image" and asker is not None and self._picture_question():
            return asker
        best = max(fits, key=lambda t: scores.get(t.name, -1.0), default=None)
        if plain is None or (best is not None and
                             scores.get(best.name, -1.0) - scores.get(plain.name, -1.0) > READER_MARGIN):
            return best
        return plain

    def _picture_question(self) -> str:
        """The clause of the request that asks what the picture shows in particular, not what
        is in it nor the words on it ("what is the person in this photo holding? and read the
        answer aloud": the answer to it is what is read, not a caption); '' if none does."""
        clauses = self.ranking.clauses if self.ranking is not None else []
        return next((c for c in clauses if is_question(c) and SEEN.search(c) and not ABOUT_WORDS.search(c)), "")

    def _counterpart(self, step):
        """The step's task for the kind of file this turn brought, when the user brought
        none of the kind it takes: image classification of a recording is audio
        classification; visual or document question answering of one is question
        answering (its transcript is read first by ``_reader``); reading one ("what's going on
        in this clip?" asks for a caption) is transcribing it."""
        task = step.candidates[0]
        brought = set(self.attachments.values())
        needed = task.file_inputs
        if not brought or not needed or needed & brought:
            return None
        fits = [t for t in self.task_types if t is not task and t.output == task.output and task_kind(t) == task_kind(task)
                and set(t.args.values()) <= brought | {"text"}]
        fits.sort(key=lambda t: not set(t.args.values()) & brought)  # one that takes the file itself first
        if not fits and norm_name(task.name) in READERS.values():  # a caption of a recording is its transcript
            fits = [r for r in (reader_of(self.task_types, m) for m in sorted(brought)) if r is not None]
        return PlanStep(step.clause, fits[:1]) if fits else None

    def _from_made_text(self, step, earlier):
        """The step's task for a text, when the step works from a text an earlier step made
        and says so in its clause or the clauses since the last step ("describe this photo,
        then take that description and paint it in Van Gogh's style": text-to-image, not
        image-to-image of the photo)."""
        task = step.candidates[0]
        if set(task.args.values()) <= {"text"} or not any(t.output == "text" for t in earlier):
            return None
        if not MADE_TEXT.search(self._lead_in(step.clause)):
            return None
        fits = [t for t in step.candidates[1:] + [t for t in self.task_types if t not in step.candidates]
                if t.output == task.output and task_kind(t) == task_kind(task) and set(t.args.values()) == {"text"}]
        return PlanStep(step.clause, fits[:1]) if fits else None

    def _lead_in(self, clause: str) -> str:
        """``clause`` with the clauses before it that asked for no step."""
        clauses = self.ranking.clauses if self.ranking is not None else []
        if clause not in clauses:
            return clause
        asked = {s["clause"] for s in self.steps}
        start = end = clauses.index(clause)
        while start > 0 and clauses[start - 1] not in asked:
            start -= 1
        return " ".join(clauses[start:end + 1])

    def _producer(self, step, earlier):
        """A step making the file a stuck step needs, from inputs at hand (best ranked)."""
        have = {"text"} | set(self.files.values()) | {t.output for t in earlier}
        need = [m for m in step.candidates[0].args.values() if m not in have]
        if not need or self.ranking is None:
            return None
        scores = self.ranking.scores_by_name()
        makers = [t for t in self.task_types if t.output == need[0] and set(t.args.values()) <= have
                  and t.name not in {e.name for e in earlier}]
        if not makers:
            return None
        return PlanStep(step.clause, [max(makers, key=lambda t: scores.get(t.name, -1.0))])


def names_file(clause: str, name: str, modality: str) -> bool:
    """Does ``clause`` name the file ``name`` (by name, as "the memo", "this photo" …, or a
    recording by its words: "what she says")?"""
    nouns = FILE_NOUNS.get(modality)
    if modality == "audio" and SPOKEN_WORDS.search(clause):
        return True
    return name.lower() in clause.lower() or bool(nouns and re.search(
        rf"\b(?:the|this|that|my|your|his|her|our|their)\s+(?:\w+\s+)?(?:{nouns})s?\b", clause, re.IGNORECASE))


def _asks_of_a_file(step: PlanStep) -> bool:
    """Is the step a question about a file (a file slot and a text slot, its clause a
    question: "how many birds are on this fence")? Its text slot takes the clause."""
    slots = set(step.candidates[0].args.values()) if step.candidates else set()
    return "text" in slots and bool(slots - {"text"}) and is_question(step.clause)


def _asks_of_a_text(step: PlanStep) -> bool:
    """Is the step a question to answer from a passage (a question slot and a passage
    slot, ``grammar.PASSAGE_SLOT``, its clause a question: "how much did the plumber say the repair costs")? The
    question slot takes the clause."""
    args = step.candidates[0].args if step.candidates else {}
    return grammar.PASSAGE_SLOT in args and set(args.values()) == {"text"} and is_question(step.clause)


def _own_words_first(texts: list[str], clause: str, request: str) -> list[str]:
    """``texts`` with the clause a step is for just before the whole request, when both are
    there: "make a picture of a lighthouse at night, then describe what you drew" draws "make
    a picture of a lighthouse at night", not the description asked of it too. Only for a clause
    that is an order of its own ("i scribbled a quick castle doodle, can you turn it into …"
    is not what to draw), and names what it works on ("draw a cozy cabin in the woods. then make
    a short video of it": "it" is the cabin, which only the whole request names)."""
    whole = request.strip()
    if clause not in texts or whole not in texts or clause == whole or STANDS_FOR.search(clause):
        return texts
    rest = [t for t in texts if t != clause]
    at = rest.index(whole)
    return rest[:at] + [clause] + rest[at:]


def named_in(clause: str, texts: Sequence[str], files: Mapping[str, str]) -> set[str]:
    """The texts and files a clause spells out (a later task may use them, not only
    earlier outputs)."""
    return {t for t in list(texts) + list(files) if t in clause and t != clause}


def written_values(reply: str) -> list[str]:
    """The string argument values of the tasks written so far."""
    try:
        tasks = json.loads(reply + "]")
    except json.JSONDecodeError:
        return []
    return [v for t in tasks if isinstance(t, dict) for v in (t.get("args") or {}).values() if isinstance(v, str)]


def texts_used(reply: str) -> set[str]:
    """Text values the tasks written so far take (not references, not files)."""
    return {v for v in written_values(reply) if not v.startswith("<resource>-") and not FILE_LIKE.match(v)}


def files_used(reply: str) -> set[str]:
    """File names the tasks written so far take."""
    return {v for v in written_values(reply) if FILE_LIKE.match(v)}


def read_step(piece: str, types: Mapping[str, TaskType]) -> TaskType | None:
    text = piece.strip().lstrip(",").strip()
    if not text.startswith("{"):
        return None
    try:
        item = json.loads(text)
    except json.JSONDecodeError:
        return None
    return types.get(item.get("task"))
