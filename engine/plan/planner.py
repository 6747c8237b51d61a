"""Stage 1: the controller turns a request into a task graph.

Planning has four parts, each its own module:

* **triage** (``triage``) — does the request need experts at all? Greetings,
  thanks, factual and how-to questions and arithmetic bring nothing for an expert
  to work on and are answered by the controller directly (an empty plan);
* **ranking** (``ranking``) — MiniLM and cue keywords score every task type
  against every clause of the request;
* **two writers** — the rails (``rails``: one task per step, typed, most steps
  forced; the floor for tiny controllers) and the controller's own draft
  (``draft``: the whole plan in one call under the plan grammar, with the ranking
  named as a hint and retrieved demonstrations, then relinked);
* **evidence** (``evidence``) — which of the two plans runs: the rails' plan
  whenever it is usable, the draft (judged on this request) only where it is not.
  Measured on read data, Qwen2.5-Coder-1.5B's drafts lost far more often than they
  won wherever the rails had a usable plan. No fixed switch says which controller is
  "capable": a controller measured to plan better than the rails on labelled requests
  (``calibration``, run by ``hgpt calibrate``) is planned with ``draft="prefer"`` (its
  usable draft runs); every other controller's draft is held to the rule above. Where
  the rails' plan is usable no draft is written (planning then costs no generation at all).

Whatever was written is parsed and repaired (``graph``), and steps it implies are
added (``implied``: a ControlNet drawing needs its control map first). ``Planner.plan`` returns
the plan with its seconds and a ``PlanTrace`` of what it offered, saw and chose;
the planner keeps no per-request state, so concurrent runs can share it. Each
part can be switched off for ablation (``options.PlanningOptions``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, NamedTuple, Sequence

from ..cancel import CancelToken
from ..errors import HgptError, MissingDependencyError, ModelFileError
from ..tasks import (CONTROL_KINDS, READERS, TASK_TYPES, TaskType, askers_of, classifier_of, draws, is_map_maker, named,
                     task_kind)
from ..text import is_question, questions
from . import draft, evidence, prompts
from .chatlog import asked_before, asked_of_a_quote, clean, last_asked_of_files, turn_files
from .grammar import PASSAGE_SLOT, passage_answerer
from .graph import Plan, Task, parse, validate
from .implied import (ABOUT_THE_SOUND, ABOUT_WORDS, DRAWS_FROM_MAP, LOOKS, SEEN, add_comparison, add_control_maps,
                      add_each_file, add_foreign_reading, add_guided_drawing, add_meaning, add_picture_question,
                      add_question, add_translation, add_writing, answering, ask_the_picture, ask_what_it_shows,
                      map_makers, question_args)
from .options import PlanningOptions
from .rails import Rails, last_answer, request_texts
from .triage import CHANGES, CONTINUES, MAKING, POINTS_BACK

log = logging.getLogger(__name__)
# an order to make or change a picture ("use it to make the room look …", "put a ballerina in that pose")
DRAW_ORDER = re.compile(MAKING.pattern + r"|\b(?:put|place|turn|use|add|give|change|swap|replace|dress)\b", re.IGNORECASE)
EdgeCheck = Callable[[TaskType, TaskType], bool]


@dataclass
class PlanTrace:
    """What one planning call offered, saw and chose: for ``hgpt plan`` and the evaluations."""

    offered: list[str] = field(default_factory=list)  # task types on offer
    demos: list[str] = field(default_factory=list)  # requests of the demonstrations shown
    files: dict[str, str] = field(default_factory=dict)  # every file the plan may use
    attachments: dict[str, str] = field(default_factory=dict)  # this turn's own files
    triage: dict = field(default_factory=dict)  # direct or not, and why
    steps: list[dict] = field(default_factory=list)  # clause -> task types, for guided steps
    calls: int = 0  # controller calls that had a real choice to make
    candidates: dict[str, list] = field(default_factory=dict)  # writer -> the plan it wrote
    chosen: str = ""  # which writer's plan this is, and why
    why: str = ""
    asked: str = ""  # the request the plan answers, when not this one: the previous one, asked again
    held: dict[int, str] = field(default_factory=dict)  # task id -> its clause, for the experts (Engine.plan_only)

    def to_dict(self) -> dict:
        return asdict(self)

    def clauses_of(self, plan: Plan, request: str) -> dict[int, str]:
        """Task id -> the words that asked for it: the clause of the guided step that offered
        its task type (steps and tasks paired in order, each step once), else the whole
        ``request`` (a task the request implies, a draft's own)."""
        free = list(self.steps)
        found = {}
        for task in plan.tasks:
            step = next((s for s in free if task.task in s.get("tasks", ())), None)
            if step is not None:
                free.remove(step)
            found[task.id] = step["clause"] if step is not None else request
        return found


DEFINITE = re.compile(r"\b(?:the|it|its|they|them|there|he|she|his|her)\b", re.IGNORECASE)
# a question that names a person or a place the picture need not show ("how many moons does Jupiter have?")
NAMED = re.compile(r"(?<=\s)(?!I\b)[A-Z][a-z]+")
SHORT_QUESTION = 12  # words


class Planned(NamedTuple):
    plan: Plan
    seconds: float
    trace: PlanTrace


@dataclass
class Planner:
    """Plans requests for one controller; holds no per-request state, so runs may share it."""

    controller: object
    task_types: Sequence[TaskType] = field(default_factory=lambda: list(TASK_TYPES.values()))
    options: PlanningOptions = field(default_factory=PlanningOptions)
    ranker: object | None = None  # engine.plan.ranking.TaskRanker: narrowing, step guidance, evidence
    bank: object | None = None  # engine.plan.demos.DemoBank: retrieved demonstrations
    edge_ok: EdgeCheck | None = None
    triager: object | None = None  # engine.plan.triage.Triager

    @property
    def types_by_name(self) -> dict[str, TaskType]:
        return {t.name: t for t in self.task_types}

    def part(self, name: str):
        """``ranker`` or ``bank``, built now if it was given as a ``Lazy`` (None if it cannot be)."""
        value = getattr(self, name)
        return value.get() if isinstance(value, Lazy) else value

    def plan(self, request: str, attachments: Mapping[str, str] | None = None,
             history: Sequence[dict] = (), cancel: CancelToken | None = None) -> Planned:
        """The plan for ``request``, its seconds and the trace; ``cancel`` is checked
        between controller calls and, inside one, between generated tokens."""
        started = time.perf_counter()
        cancel = cancel or CancelToken()
        options = self.options
        current, earlier = self._current_files(request, attachments), self._earlier_files(history)
        files = {**current, **earlier}  # this turn's files first: a slot offers them first
        trace = PlanTrace(files=files, attachments=dict(attachments or {}))
        rankings: list = []

        def rank():
            if not rankings:
                ranker = self.part("ranker")
                rankings.append(ranker.rank(request, files) if ranker is not None else None)
            return rankings[0]

        again = self._asked_again(request, current, history, rank)
        if again:  # "and what about this one?" with a new file or quote asks an earlier request again, of it
            planned = self.plan(again, attachments, (), cancel)
            planned.trace.why = (f"the previous request, asked again of this turn's {'file' if current else 'quoted text'} "
                                 f"({planned.trace.why})")
            planned.trace.asked = again
            return Planned(planned.plan, time.perf_counter() - started, planned.trace)
        same = self._asked_of_the_same_file(request, current, history, rank)
        if same is not None:  # "and when does it expire?" after a question about a card
            trace.chosen, trace.why = "rails", "a follow-up question about the file an earlier turn brought"
            trace.candidates["rails"] = same.to_list()
            return Planned(same, time.perf_counter() - started, trace)
        seen = self._seen_in_the_last_picture(request, current, history)
        if seen is not None:  # "what colour is the roof?" after a castle was drawn
            trace.chosen, trace.why = "rails", "a question about what the picture of the last turn shows"
            trace.candidates["rails"] = seen.to_list()
            return Planned(seen, time.perf_counter() - started, trace)
        drawn = self._drawn_from_the_map(request, current, history)
        if drawn is not None:  # "now put a ballerina in exactly that pose" after the pose of a photo was drawn
            trace.chosen, trace.why = "rails", "an order to draw from the map the previous turn made"
            trace.candidates["rails"] = drawn.to_list()
            return Planned(drawn, time.perf_counter() - started, trace)
        triage = self._triage(request, current, earlier, history, rank)
        if triage is not None:
            trace.triage = triage.to_dict()
            if triage.direct:
                trace.chosen, trace.why = "triage", triage.why
                return Planned(Plan(raw="[]"), time.perf_counter() - started, trace)
        changed = self._changed(request, triage, earlier, rank) or self._redrawn(request, triage, earlier, history)
        if changed is not None:  # "make another one but with a wolf" after a drawing: that drawing, changed
            trace.chosen, trace.why = "rails", triage.why
            trace.candidates["rails"] = changed.to_list()
            return Planned(changed, time.perf_counter() - started, trace)
        cancel.check()
        ranking = rank()
        offered = ranking.offered(options.top_k) if ranking is not None else list(self.task_types)
        demos = self._demos(request, offered)
        listed = list(self.task_types) if options.list_all else offered
        messages = prompts.planning_messages(request, listed, files, demos, history)
        trace.offered, trace.demos = [t.name for t in offered], [d["request"] for d in demos]
        unreadable: dict[str, HgptError] = {}
        plans, skipped = self._write(request, history, files, current, ranking, offered, messages, triage, trace,
                                     cancel, unreadable)
        sources = [request, *files, *(str(turn.get("content", "")) for turn in history)]
        name, why = evidence.choose(plans, ranking, triage, options.draft, sources, files, self.types_by_name)
        if skipped:
            why = "the rails' plan is usable: no draft was written"
        trace.chosen, trace.why = name, why
        trace.candidates = {k: p.to_list() for k, p in plans.items()}
        if name in unreadable:  # nothing better was written: say what went wrong
            raise unreadable[name]
        return Planned(plans[name] if name in plans else Plan(), time.perf_counter() - started, trace)

    # -- the writers --------------------------------------------------------------------
    def _write(self, request, history, files, current, ranking, offered, messages, triage, trace, cancel,
               unreadable) -> tuple[dict[str, Plan], bool]:
        """The plans written, by writer, and whether the draft was skipped as not needed."""
        options, controller = self.options, self.controller
        controller.prime(messages[:1])  # the instructions and every task type: evaluated once, kept on disk
        plans: dict[str, Plan] = {}
        stepwise = options.grammar and options.stepwise and controller.supports_prefix
        if stepwise and options.draft != "only":
            must_plan = (not options.triage or bool(current) or bool(triage and triage.asked)  # triage off: always plan
                         or (ranking is not None and _asks_for_work(ranking)))
            rails = Rails(controller, self.task_types, request, history, files, must_plan, ranking, offered, messages,
                          options.max_tasks, options.step_tokens, options.guided, options.per_clause,
                          options.free_text, self.edge_ok, attachments=current)
            plans["rails"] = self._parsed(rails.write(cancel), request, files, "rails", unreadable, rails.repeats)
            trace.steps, trace.calls = rails.steps, trace.calls + rails.calls
        skip = (options.draft == "auto" and "rails" in plans
                and not evidence.draft_needed(plans["rails"], ranking, triage))
        if (options.draft != "never" and not skip) or not stepwise:
            cancel.check()
            if options.hint and ranking is not None:
                messages = _with_hint(messages, draft.hint_line(ranking.order()))
            allowed = self.task_types if options.grammar_all else offered
            raw = (draft.write(controller, messages, allowed, files, options.max_tasks, options.max_tokens, cancel)
                   if options.grammar else controller.complete(messages, max_tokens=options.max_tokens, cancel=cancel))
            trace.calls += 1
            plan = self._parsed(raw, request, files, "draft", unreadable)
            if options.relink:
                plan.repairs += draft.relink(plan, self.types_by_name, request_texts(request), files, self.edge_ok)
            if options.draft in ("auto", "prefer"):
                plan = evidence.pruned(plan, plans.get("rails"), ranking, triage)
            plans["draft"] = plan
        return plans, skip

    def _parsed(self, raw: str, request: str, files, name: str, unreadable: dict, repeats=frozenset()) -> Plan:
        try:
            plan = parse(raw, self.types_by_name, files, repeats)
        except HgptError as exc:  # an unreadable plan is no plan; the other writer's may stand
            unreadable[name] = exc
            return Plan(repairs=[str(exc)], raw=raw)
        problems = validate(plan.tasks, self.types_by_name)
        plan.repairs += problems
        if not problems:
            plan.repairs += add_guided_drawing(plan, request, files, self.types_by_name)
            plan.repairs += add_control_maps(plan, self.types_by_name)
            plan.repairs += add_question(plan, request, self.types_by_name)
            plan.repairs += add_writing(plan, request, self.types_by_name)
            plan.repairs += add_each_file(plan, request, files)
            plan.repairs += add_comparison(plan, request, files, self.types_by_name)
            plan.repairs += add_picture_question(plan, request, files, self.types_by_name)
            plan = ask_the_picture(plan, files, self.types_by_name)
            plan.repairs += ask_what_it_shows(plan, request, files, self.types_by_name)
            plan.repairs += add_translation(plan, request, self.types_by_name)
            plan.repairs += add_meaning(plan, request, self.types_by_name)
            plan.repairs += add_foreign_reading(plan, request, files, self.types_by_name)
        return plan

    @staticmethod
    def _names_other_text_task(rank, answerer: TaskType) -> bool:
        """Does a cue word of the request name a task on text alone other than ``answerer``?"""
        ranking = rank() if rank is not None else None
        if ranking is None:
            return False
        named = [i for i in range(len(ranking.task_types)) if ranking.keyword_hits[:, i].any()]
        return any(set(ranking.task_types[i].args.values()) == {"text"} and ranking.task_types[i] is not answerer
                   and task_kind(ranking.task_types[i]) != "question-answering" for i in named)

    # -- inputs ---------------------------------------------------------------------
    def _asked_again(self, request, current, history, rank) -> str:
        """The earlier request a follow-up with a new file (or a new quoted text) and no ask of
        its own repeats: the latest one that brought a file of that kind (or quoted a text) and
        asks for work itself."""
        earlier = asked_before(history, current) if current else asked_of_a_quote(history, request)
        earlier = [r for r in earlier if r.strip() != request.strip()]
        ranker = self.part("ranker") if earlier else None
        if ranker is None or rank().plan_steps():
            return ""
        return next((r for r in earlier if _asks_for_work(ranker.rank(r, current))), "")

    def _asked_of_the_same_file(self, request, current, history, rank=None) -> Plan | None:
        """The previous turn's question-answering task, asked this turn's question, when this
        turn brings no file, asks a question that points back or goes on from the previous
        one ("and what was the date?"), and the previous turn asked a
        question of a file ("what's the policy number on this?" with a card, then "and when
        does it expire?"); when that turn read the file (its words, what a recording says),
        the question is answered from the file's text, read again. A question about a text
        file the previous turn brought is answered from that file, whatever that turn asked
        ("summarize this lease", then "does it say anything about pets?"), unless a word of the
        question names another task on text ("so are they mostly positive or negative?" sorts
        the reviews). A question about the
        sound or the speaker's mood of a recording it brought is asked of the recording ("does she
        sound upset?" after its transcript)."""
        if current or not questions(request) or not (POINTS_BACK.search(request) or CONTINUES.match(request)):
            return None
        earlier, files = last_asked_of_files(history)
        passage = next((name for name, modality in files.items() if modality == "text"), None)
        answerer = passage_answerer(self.task_types)
        if passage is not None and answerer is not None and not self._names_other_text_task(rank, answerer):
            question = next(slot for slot in answerer.args if slot != PASSAGE_SLOT)
            return Plan([Task(0, answerer.name, [-1], {question: request.strip(), PASSAGE_SLOT: passage})])
        recordings = [name for name, modality in files.items() if modality == "audio"]
        hearer = classifier_of(self.task_types, "audio")
        if len(recordings) == 1 and hearer is not None and ABOUT_THE_SOUND.search(request):
            # "is he angry?" after a voicemail was transcribed: asked of the voice, not the words
            return Plan([Task(0, hearer.name, [-1], {next(iter(hearer.args)): recordings[0]})])
        ranker = self.part("ranker") if earlier and (questions(earlier) or is_question(earlier)) else None
        ranking = ranker.rank(earlier, files) if ranker is not None else None
        steps = (ranking.plan_steps() or [ranking.fallback_step()]) if ranking is not None else []
        if len(steps) != 1:
            return None
        task = steps[0].candidates[0]
        file_slots = [k for k, m in task.args.items() if m != "text"]
        text_slots = [k for k, m in task.args.items() if m == "text"]
        name = next((n for n, m in files.items() if file_slots and m == task.args[file_slots[0]]), None)
        if task.output != "text" or len(file_slots) != 1 or name is None:
            return None
        if len(text_slots) == 1:  # the question-answering task of that file
            return Plan([Task(0, task.name, [-1], {file_slots[0]: name, text_slots[0]: request.strip()})])
        if text_slots or task.name not in READERS.values():
            return None
        modality = files[name]
        if modality == "image" and (not ABOUT_WORDS.search(earlier) or LOOKS.search(request)):  # a caption was
            # asked for, not words, or the new question is about how the thing looks ("what colour is the sign?"):
            asked = self._asked_of_the_picture(request, name, files)  # the new question, of the picture itself
            if asked is not None:
                return asked
        read = Task(0, task.name, [-1], {file_slots[0]: name})  # the previous turn read the file: answer from it
        answer = answering(self.task_types, read, request.strip())
        return Plan([read, answer]) if answer is not None else None

    def _seen_in_the_last_picture(self, request, current, history) -> Plan | None:
        """A short question about what a picture shows, with no file, after a turn that brought or
        made one picture: asked of that picture ("what colour is the roof?" after "draw a castle on a
        hill"; "how many people are there?" after "what's in this photo?"). Not a question that names
        someone or somewhere ("how many moons does Jupiter have?"), nor one without a word for a thing
        seen ("what's a good name for a dog?"). One that points back ("how many chairs are in it?") is
        planned with the files it points at, as before."""
        if (current or not is_question(request) or not SEEN.search(request) or not DEFINITE.search(request)
                or NAMED.search(request) or len(request.split()) > SHORT_QUESTION
                or POINTS_BACK.search(request)):  # one that points back is planned with the files it points at
            return None
        last = clean(history)[-2:]
        pictures = [name for turn in last for name, modality in turn_files(turn).items() if modality == "image"]
        if len(set(pictures)) != 1:
            return None
        return self._asked_of_the_picture(request, pictures[0], {pictures[0]: "image"})

    def _asked_of_the_picture(self, request, name, files) -> Plan | None:
        """``request`` asked of the picture ``name`` by the task that answers a question about a
        picture (the one the ranking puts higher over ``files``); None when there is none."""
        asker = self._asker(request, "image", files)
        if asker is None:
            return None
        return Plan([Task(0, asker.name, [-1], question_args(asker, name, request.strip()))])

    def _drawn_from_the_map(self, request, current, history) -> Plan | None:
        """After a turn that made a map of the user's photo (its pose, depth, edges …), an order
        that points back and asks for no other task draws a new picture from that map, of the
        photo: "now put a ballerina in exactly that pose" after "get the pose from this photo",
        "nice. now use it to make the room look scandinavian" after a depth map of the room.
        The drawing's own step makes the map again (``implied.add_control_maps``): the map the
        previous turn showed is a picture of the map, not the map a drawing is guided by."""
        if current or is_question(request) or not POINTS_BACK.search(request) or not DRAW_ORDER.search(request):
            return None
        users = [t for t in clean(history) if t.get("role") == "user"]
        earlier, files = last_asked_of_files(history)
        photos = [name for name, modality in files.items() if modality == "image"]
        ranker = self.part("ranker") if users and earlier == users[-1]["content"] and len(photos) == 1 else None
        if ranker is None:
            return None
        made = ranker.rank(earlier, files)
        steps = made.plan_steps() or [made.fallback_step()]
        kinds = [kind for kind in CONTROL_KINDS if steps and steps[0].candidates[0].name in map_makers(kind)]
        drawing = self.types_by_name.get(f"{kinds[0]}{DRAWS_FROM_MAP}") if len(steps) == 1 and kinds else None
        asked = ranker.rank(request, {})
        if drawing is None or any(hit and not (draws(t) or is_map_maker(t))
                                  for row in asked.keyword_hits for hit, t in zip(row, asked.task_types)):
            return None
        plan = Plan([Task(0, drawing.name, [-1], {"text": request.strip(), "image": photos[0]})])
        plan.repairs += add_control_maps(plan, self.types_by_name)
        return plan

    def _changed(self, request, triage, earlier, rank) -> Plan | None:
        """The task triage found for an order to change what an earlier turn made or brought,
        on the latest file of the kind it takes, when no clause of the request clearly asks for
        a task of its own ("make another one but with a wolf" would else be read as "wolf")."""
        if triage is None or triage.why != CHANGES or len(triage.asked) != 1 or triage.asked[0] not in self.types_by_name:
            return None
        task = self.types_by_name[triage.asked[0]]
        file_slots = [k for k, m in task.args.items() if m != "text"]
        names = [name for name, m in earlier.items() if file_slots and m == task.args[file_slots[0]]]
        ranking = rank() if self.ranker is not None else None
        if len(file_slots) != 1 or not names or (ranking is not None and ranking.plan_steps()):
            return None
        args = {k: (names[-1] if k in file_slots else request.strip()) for k in task.args}
        return Plan([Task(0, task.name, [-1], args)])

    def _redrawn(self, request, triage, earlier, history) -> Plan | None:
        """An order to change a picture an earlier turn drew, when no file of it is at hand (a
        chat log kept as text): drawn again from that turn's words and the change ("draw a castle
        on a hill at night", then "make another one but with a dragon", was written as a story)."""
        drawer = named(self.task_types, "text-to-image")
        asked = next((str(t.get("content", "")) for t in reversed(history) if t.get("role") == "user"), "")
        if (triage is None or triage.why != CHANGES or drawer is None or self.ranker is None or not asked.strip()
                or "image" in earlier.values()):
            return None
        steps = self.part("ranker").rank(asked, {}).plan_steps()
        if not steps or steps[0].candidates[0].name != drawer.name:
            return None
        return Plan([Task(0, drawer.name, [-1], {next(iter(drawer.args)): f"{asked.strip()}; {request.strip()}"})])

    def _asker(self, request: str, modality: str, files) -> TaskType | None:
        """The task that answers a question about a file of ``modality`` (visual or document
        question answering), the one the ranking puts higher for ``request``."""
        askers = askers_of(self.task_types, modality)
        ranker = self.part("ranker") if len(askers) > 1 else None
        scores = ranker.rank(request, files).scores_by_name() if ranker is not None else {}
        return max(askers, key=lambda t: scores.get(t.name, 0.0), default=None)

    def _triage(self, request, current, earlier, history, rank):
        if not self.options.triage or self.triager is None:
            return None
        return self.triager.triage(request, current, earlier, last_answer(history),
                                   rank=rank if self.ranker is not None else None)

    @staticmethod
    def _earlier_files(history) -> dict[str, str]:
        from .chatlog import history_files

        return history_files(history)

    @staticmethod
    def _current_files(request, attachments) -> dict[str, str]:
        from .ranking import mentioned_files

        return {**mentioned_files(request), **dict(attachments or {})}

    def _demos(self, request, offered) -> list[dict]:
        bank = self.part("bank")
        if bank is None:
            return []
        picked = bank.retrieve(request, self.types_by_name, self.options.n_demos, [t.name for t in offered])
        return [d.as_prompt() for d in picked]


NEEDS_TASK_SCORE = 0.5


def _asks_for_work(ranking) -> bool:
    return bool(ranking.keyword_hits.any()) or float(ranking.scores.max()) >= NEEDS_TASK_SCORE


def _with_hint(messages: list[dict], hint: str) -> list[dict]:
    """The messages with ``hint`` after the request (the fixed start stays cacheable)."""
    if not hint:
        return messages
    last = dict(messages[-1], content=f"{messages[-1]['content']}\n({hint})")
    return messages[:-1] + [last]


class Lazy:
    """A part of the planner built on first use (the embedding model behind the ranking
    and the demonstrations loads only when a request needs them). One that cannot be
    built (its model missing) is left out with a warning: the controller still
    plans, only less well."""

    def __init__(self, build: Callable[[], object], what: str):
        self._build, self.what = build, what
        self._value, self._built = None, False
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if not self._built:
                try:
                    self._value = self._build()
                except (ModelFileError, MissingDependencyError) as exc:
                    log.warning("planning without %s: %s", self.what, exc)
                self._built = True
            return self._value


def default_planner(controller, *, task_types: Sequence[TaskType] | None = None,
                    options: PlanningOptions | None = None, edge_ok=None, cache_dir: Path | None = None):
    """The planner for ``controller``: the task types (hgpt's own, or another list such
    as TaskBench's tools), the ranker that narrows them per request, the
    demonstration bank, and the edge check. The ranker and the bank embed their
    fixed texts once; with ``cache_dir`` the vectors are kept on disk by a hash of
    their text, so a fresh process does not embed them again."""
    from .demos import DemoBank
    from .ranking import TaskRanker
    from .triage import Triager

    options = options or PlanningOptions()
    types = list(task_types if task_types is not None else TASK_TYPES.values())
    ranker = Lazy(lambda: TaskRanker(types, cache_dir=cache_dir), "task ranking") if options.narrow else None
    bank = Lazy(lambda: DemoBank(cache_dir=cache_dir), "retrieved demonstrations") if options.retrieval else None
    triager = Triager(types) if options.triage else None
    return Planner(controller, types, options, ranker=ranker, bank=bank, edge_ok=edge_ok, triager=triager)
