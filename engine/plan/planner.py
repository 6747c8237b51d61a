"""Stage 1: the controller turns a request into a task graph.

A 135M-parameter controller plans well only inside firm rails, so planning is
engineered around it rather than left to hope:

* **ranking** — a ``TaskRanker`` (``engine.plan.ranking``) scores every task type
  against every clause of the request (MiniLM similarity to the type's
  description and cue phrases, cue keywords, the modality of the files);
* **guided steps** — the plan gets one step per clause that asks for a task, in
  the clause order, each offering that clause's best task type (``per_clause``
  of them when a stronger controller should choose); unguided, every step
  offers the top-ranked types and the controller may end the plan;
* **one task per call, typed** — when the controller can continue a reply it has
  begun (``supports_prefix``), the plan is written one task at a time under
  choices built for that position (``grammar.step_choices``) that know the tasks
  already written: ``<resource>-j`` only where task *j*'s output fits the slot (a
  guided step continues from the latest such output), files only of the slot's
  modality, texts only from the request (quoted words, the text after a colon, the
  clause, the whole request) or the previous answer when the request points back
  to it. A step with a single possible continuation is written without asking
  the controller; a step whose file input nothing supplies gets a producer first
  (no image: draw one). The controller is asked where a real choice remains —
  which text, whether to plan at all — with retrieved demonstrations
  (``engine.plan.demos``) as earlier chat turns, after a fixed start (instructions and
  every task type) that its prefix cache keeps evaluated. Controllers that cannot
  continue a reply get one call under the whole-plan grammar;
* **repair** — whatever was written is parsed and repaired (``engine.plan.graph``).

``Planner.plan`` returns the plan with its seconds and a ``PlanTrace`` of what it
offered and saw; the planner itself keeps no per-request state, so concurrent runs
can share it. Each rail can be switched off for ablation
(``engine.plan.options.PlanningOptions``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, NamedTuple, Sequence

from ..cancel import CancelToken
from ..errors import MissingDependencyError, ModelFileError
from ..tasks import TASK_TYPES, TaskType, can_feed
from . import grammar, prompts
from .graph import Plan, parse
from .options import PlanningOptions

log = logging.getLogger(__name__)
EdgeCheck = Callable[[TaskType, TaskType], bool]

FILE_LIKE = re.compile(r"^[\w\-/]+\.\w{2,4}$")
COLON_RE = re.compile(r":\s+([^:'\"“”\n]{8,400}?)\s*$", re.MULTILINE)
NEEDS_TASK_SCORE = 0.5
MAX_REQUEST_TEXT = 300
MAX_ANSWER_QUOTE = 300


def quoted_spans(request: str) -> list[str]:
    """Texts the user put in quotes (not file names): likely task inputs."""
    from .ranking import QUOTED_RE

    spans = [next(g for g in m.groups() if g) for m in QUOTED_RE.finditer(request)]
    return list(dict.fromkeys(s.strip() for s in spans if s.strip() and not FILE_LIKE.match(s.strip())))


def request_texts(request: str) -> list[str]:
    """Spans of the request a text argument may be: quoted words, the text after a
    colon, and the whole request when it is short."""
    spans = quoted_spans(request)
    spans += [m.group(1).strip() for m in COLON_RE.finditer(request) if len(m.group(1).split()) >= 3]
    if len(request) <= MAX_REQUEST_TEXT:
        spans.append(request.strip())
    return list(dict.fromkeys(s for s in spans if s))


REFERS_BACK = re.compile(r"\b(that|it|this|these|those|the (answer|result|reply|text|summary|transcript|"
                         r"translation|caption|description)|above|previous)\b", re.IGNORECASE)


def _last_answer(history: Sequence[dict]) -> str:
    answers = [str(t.get("content", "")).strip() for t in history if t.get("role") == "assistant"]
    last = answers[-1] if answers else ""
    return last if 0 < len(last) <= MAX_ANSWER_QUOTE and '"' not in last else ""


@dataclass
class PlanTrace:
    """What one planning call offered and saw: for ``hgpt plan`` and the evaluations."""

    offered: list[str] = field(default_factory=list)  # task types on offer
    demos: list[str] = field(default_factory=list)  # requests of the demonstrations shown
    files: dict[str, str] = field(default_factory=dict)  # every file the plan may use
    attachments: dict[str, str] = field(default_factory=dict)  # this turn's own files
    steps: list[dict] = field(default_factory=list)  # clause -> task types, for guided steps
    calls: int = 0  # controller calls that had a real choice to make

    def to_dict(self) -> dict:
        return asdict(self)


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
    ranker: object | None = None  # engine.plan.ranking.TaskRanker: narrowing and step guidance
    bank: object | None = None  # engine.plan.demos.DemoBank: retrieved demonstrations
    edge_ok: EdgeCheck | None = None

    @property
    def types_by_name(self) -> dict[str, TaskType]:
        return {t.name: t for t in self.task_types}

    def plan(self, request: str, attachments: Mapping[str, str] | None = None,
             history: Sequence[dict] = (), cancel: CancelToken | None = None) -> Planned:
        """The plan for ``request``, its seconds and the trace; ``cancel`` is checked
        between controller calls and, inside one, between generated tokens."""
        started = time.perf_counter()
        cancel = cancel or CancelToken()
        options = self.options
        files = self._files(request, attachments, history)
        ranking = self.ranker.rank(request, files) if self.ranker is not None else None
        offered = ranking.offered(options.top_k) if ranking is not None else list(self.task_types)
        demos = self._demos(request, offered)
        listed = list(self.task_types) if options.list_all else offered
        messages = prompts.planning_messages(request, listed, files, demos, history)
        trace = PlanTrace([t.name for t in offered], [d["request"] for d in demos], files, dict(attachments or {}))
        cancel.check()
        if options.grammar and options.stepwise and self.controller.supports_prefix:
            raw = self._write_stepwise(messages, offered, files, ranking, request, history, trace, cancel)
        else:
            raw = self._write_whole(messages, offered, files, cancel)
            trace.calls = 1
        plan = parse(raw, self.types_by_name, files)
        return Planned(plan, time.perf_counter() - started, trace)

    # -- inputs ---------------------------------------------------------------------
    def _files(self, request, attachments, history) -> dict[str, str]:
        from .chatlog import history_files

        return {**history_files(history), **self._current_files(request, attachments)}

    @staticmethod
    def _current_files(request, attachments) -> dict[str, str]:
        from .ranking import mentioned_files

        return {**mentioned_files(request), **dict(attachments or {})}

    def _demos(self, request, offered) -> list[dict]:
        if self.bank is None:
            return []
        picked = self.bank.retrieve(request, self.types_by_name, self.options.n_demos, [t.name for t in offered])
        return [d.as_prompt() for d in picked]

    # -- the whole plan in one call -----------------------------------------------------
    def _write_whole(self, messages, offered, files, cancel) -> str:
        options, controller = self.options, self.controller
        constrain = options.grammar
        gbnf = grammar.plan_grammar(offered, files, options.max_tasks) if constrain and controller.accepts_grammar else None
        schema = grammar.plan_schema(offered, options.max_tasks) if constrain and controller.accepts_schema else None
        return controller.complete(messages, grammar=gbnf, schema=schema, max_tokens=options.max_tokens, cancel=cancel)

    # -- one task per call ----------------------------------------------------------
    def _write_stepwise(self, messages, offered, files, ranking, request, history, trace, cancel) -> str:
        options = self.options
        texts = self._texts(request, history)
        current = self._current_files(request, trace.attachments)
        must_plan = bool(current) or (ranking is not None and _asks_for_work(ranking))
        steps = self._steps(ranking, must_plan)
        trace.steps = [{"clause": s.clause, "tasks": [t.name for t in s.candidates]} for s in steps or []]
        queue = list(steps) if steps is not None else None
        reply, earlier, helped = "[", [], set()
        while len(earlier) < options.max_tasks and (queue is None or queue):
            cancel.check()
            step = queue.pop(0) if queue is not None else None
            choices = self._choices(step, earlier, offered, files, texts, request, history,
                                    allow_end=step is None and (bool(earlier) or not must_plan),
                                    used=_texts_used(reply))
            if not choices.alternatives:
                if step is None:
                    break
                producer = None if id(step) in helped else self._producer(step, earlier, files, ranking)
                if producer is not None:  # e.g. "segment a castle" with no image: draw one first
                    helped.add(id(step))
                    queue[:0] = [producer, step]
                continue
            trace.calls += choices.forced() is None
            piece = self.controller.choose(choices, messages, reply, max_tokens=options.step_tokens, cancel=cancel)
            task = _read_step(piece, self.types_by_name)
            if task is None:
                break
            reply += piece
            earlier.append(task)
        return reply + "]"

    def _choices(self, step, earlier, offered, files, texts, request, history, allow_end, used=frozenset()):
        pool = step.candidates if step is not None else offered
        candidates = [t for t in pool if t.name not in {e.name for e in earlier}]
        # a text the clause names that an earlier task already took is that task's input:
        # this step continues from an output instead
        local = _named_in(step.clause, texts, files) - set(used) if step is not None else None
        if step is not None and step.clause not in texts and not self._points_back(request, history):
            texts = texts + [step.clause]
        return grammar.step_choices(len(earlier), candidates, earlier, files, texts, allow_end=allow_end,
                                    free_text=self.options.free_text, edge_ok=self.edge_ok or can_feed, local=local)

    def _producer(self, step, earlier, files, ranking):
        """A step making the file a stuck step needs, from inputs at hand (best ranked)."""
        from .ranking import PlanStep

        have = {"text"} | set(files.values()) | {t.output for t in earlier}
        need = [m for m in step.candidates[0].args.values() if m not in have]
        if not need or ranking is None:
            return None
        scores = dict(zip((t.name for t in ranking.task_types), ranking.task_scores()))
        makers = [t for t in self.task_types if t.output == need[0] and set(t.args.values()) <= have
                  and t.name not in {e.name for e in earlier}]
        if not makers:
            return None
        return PlanStep(step.clause, [max(makers, key=lambda t: scores.get(t.name, -1.0))])

    @staticmethod
    def _texts(request: str, history: Sequence[dict]) -> list[str]:
        """Texts a text slot may take: spans of the request, or — when the request
        points back ("read that aloud") and quotes nothing — the previous answer."""
        last = _last_answer(history)
        if Planner._points_back(request, history):
            return [last]
        return request_texts(request) + ([last] if last else [])

    @staticmethod
    def _points_back(request: str, history: Sequence[dict]) -> bool:
        return bool(_last_answer(history)) and bool(REFERS_BACK.search(request)) and not quoted_spans(request)

    def _steps(self, ranking, must_plan):
        """Guided steps from the ranking; None lets the controller choose freely."""
        if ranking is None or not self.options.guided:
            return None
        from .ranking import PlanStep

        per_clause = self.options.per_clause
        steps = ranking.plan_steps(per_clause)
        if not steps and must_plan:
            steps = [PlanStep(ranking.clauses[0], ranking.order()[:per_clause])]
        return steps or None


def _named_in(clause: str, texts: Sequence[str], files: Mapping[str, str]) -> set[str]:
    """The texts and files a clause spells out (a later task may use them, not only
    earlier outputs)."""
    return {t for t in list(texts) + list(files) if t in clause and t != clause}


def _texts_used(reply: str) -> set[str]:
    """Text values the tasks written so far take (not references, not files)."""
    try:
        tasks = json.loads(reply + "]")
    except json.JSONDecodeError:
        return set()
    values = {v for t in tasks if isinstance(t, dict) for v in (t.get("args") or {}).values() if isinstance(v, str)}
    return {v for v in values if not v.startswith("<resource>-") and not FILE_LIKE.match(v)}


def _asks_for_work(ranking) -> bool:
    return bool(ranking.keyword_hits.any()) or float(ranking.scores.max()) >= NEEDS_TASK_SCORE


def _read_step(piece: str, types: Mapping[str, TaskType]) -> TaskType | None:
    text = piece.strip().lstrip(",").strip()
    if not text.startswith("{"):
        return None
    try:
        item = json.loads(text)
    except json.JSONDecodeError:
        return None
    return types.get(item.get("task"))


def _optional(build, what: str):
    """A rail that cannot be built (its model missing) is left out with a warning:
    the controller still plans, only less well."""
    try:
        return build()
    except (ModelFileError, MissingDependencyError) as exc:
        log.warning("planning without %s: %s", what, exc)
        return None


def default_planner(controller, *, task_types: Sequence[TaskType] | None = None,
                    options: PlanningOptions | None = None, edge_ok=None, cache_dir: Path | None = None):
    """The planner for ``controller``: the task types (hgpt's own, or another list such
    as TaskBench's tools), the ranker that narrows them per request, the
    demonstration bank, and the edge check. The ranker and the bank embed their
    fixed texts once; with ``cache_dir`` the vectors are kept on disk by a hash of
    their text, so a fresh process does not embed them again."""
    from .demos import DemoBank
    from .ranking import TaskRanker

    options = options or PlanningOptions()
    types = list(task_types if task_types is not None else TASK_TYPES.values())
    ranker = _optional(lambda: TaskRanker(types, cache_dir=cache_dir), "task ranking") if options.narrow else None
    bank = _optional(lambda: DemoBank(cache_dir=cache_dir), "retrieved demonstrations") if options.retrieval else None
    return Planner(controller, types, options, ranker=ranker, bank=bank, edge_ok=edge_ok)
