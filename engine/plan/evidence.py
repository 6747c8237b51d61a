"""Which plan to run: the rails' or the controller's draft, judged on this request.

The clause ranking says what the request clearly asks for: a task whose cue
keyword fires in a clause, or whose meaning is close to a clause's. A plan is
*supported* when each of its tasks is something some clause asks for at least a
little, and it *covers* the request when the clearly asked tasks are in it.

The draft is chosen when it is a usable plan (parsed, valid, not empty where the
request brought files or asked for a task) that covers at least what the rails'
plan covers, and every task it adds beyond the rails' plan is either clearly asked
for or an intermediate step feeding one that is (the request implies it:
"summarise this recording" needs the recording transcribed first). No draft is
written where the rails' plan covers every clearly asked task and the rails read
every clause that asks for anything (``draft_needed``): there the rails' plan
measured as good as the drafts of the controllers hgpt carries, at no cost. Small
controllers tend to append tasks nobody asked for ("… and read it aloud"); those
drafts lose to the rails. They also copy text from the demonstrations: a draft whose
text argument is made of words found neither in the request nor in the chat log
loses too (the rails take text only from there).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .graph import RESOURCE_RE, Plan
from .ranking import SCENE_RE

CLEAR = 0.75  # a clause score that clearly asks for a task (the ranking's first-step bar)


WORD_RE = re.compile(r"[^\W_]{3,}")
GROUNDED = 0.5  # the share of a text argument's words that must come from the request or the chat


def choose(plans: dict[str, Plan], ranking, triage, mode: str = "auto",
           sources: Sequence[str] = ()) -> tuple[str, str]:
    """``(writer, why)``: the name of the plan to run among ``plans``. ``sources`` are the
    texts a text argument may be taken from (the request and the chat log's turns)."""
    rails, drafted = plans.get("rails"), plans.get("draft")
    if drafted is None:
        return ("rails", "the rails wrote the plan") if rails is not None else ("", "no plan was written")
    if rails is None or mode in ("always", "only"):
        return "draft", "the controller wrote the plan"
    if mode == "never":
        return "rails", "the rails wrote the plan"
    problem = unusable(drafted, triage) or (invented(drafted, sources) if sources else "")
    if problem:
        return "rails", f"the draft {problem}"
    if ranking is None:
        return "draft", "no ranking to judge by: the controller's plan"
    clear = asked_clearly(ranking, triage)
    drafted_tasks, rails_tasks = {t.task for t in drafted.tasks}, {t.task for t in rails.tasks}
    if len(clear & drafted_tasks) < len(clear & rails_tasks):
        return "rails", f"the draft leaves out {', '.join(sorted((clear & rails_tasks) - drafted_tasks))}"
    unasked = unasked_additions(drafted, rails_tasks, clear)
    if unasked:
        return "rails", f"nothing in the request asks for {', '.join(unasked)}"
    named = named_tasks(ranking)  # a tie goes to the plan with more of the tasks the user's words name
    if len(clear & drafted_tasks) == len(clear & rails_tasks) and len(named & rails_tasks) > len(named & drafted_tasks):
        return "rails", f"the draft leaves out {', '.join(sorted((named & rails_tasks) - drafted_tasks))}, which the request names"
    return "draft", "the draft covers what the request asks for"


def draft_needed(rails: Plan, ranking, triage, read: Sequence[str] = ()) -> bool:
    """Is a draft worth writing beside this rails' plan? Not when the rails' plan is
    usable, has every task the request clearly asks for, and the rails read every clause
    that asks for anything (``read``: the clauses their steps came from; a clause that
    only sets the scene asks for nothing). Short requests are mostly like that; the
    planner then skips the draft, the slowest part of planning. In a long request the
    clauses the rails passed over may ask for more, and the controller reads them all."""
    if ranking is None or unusable(rails, triage):
        return True
    if not asked_clearly(ranking, triage) <= {t.task for t in rails.tasks}:
        return True
    return any(clause not in read and not SCENE_RE.match(clause) for clause in ranking.clauses)


def unasked_additions(drafted: Plan, rails_tasks: set[str], clear: set[str]) -> list[str]:
    """Tasks the draft adds beyond the rails' plan that are neither clearly asked for nor
    feeding (directly or through others) a task that is asked for or in the rails' plan."""
    wanted = {t.id for t in drafted.tasks if t.task in clear or t.task in rails_tasks}
    for task in reversed(drafted.tasks):  # a task feeding a wanted one is an implied step
        if task.id in wanted:
            wanted.update(d for d in task.dep if d >= 0)
    return sorted({t.task for t in drafted.tasks if t.id not in wanted})


def unusable(plan: Plan, triage) -> str:
    if plan.raw and not plan.tasks and any("not JSON" in r or "nested" in r for r in plan.repairs):
        return "could not be read"
    if not plan.tasks and triage is not None and not triage.direct:
        return "is empty although the request asks for work"
    if any(r.startswith("task ") and ("refers to later" in r or "missing argument" in r) for r in plan.repairs):
        return "is not a valid graph"
    return ""


def invented(plan: Plan, sources: Sequence[str]) -> str:
    """Says which text argument of ``plan`` is not taken from ``sources``, else ''."""
    known = {w.lower() for text in sources for w in WORD_RE.findall(text)}
    for task in plan.tasks:
        for value in task.args.values():
            if not isinstance(value, str) or RESOURCE_RE.search(value):
                continue
            words = [w.lower() for w in WORD_RE.findall(value)]
            if len(words) >= 2 and sum(w in known for w in words) < GROUNDED * len(words):
                return f"makes up its text {value[:40]!r}"
    return ""


def named_tasks(ranking) -> set[str]:
    """Tasks a cue word in the request names ("transcribe", "out loud")."""
    names = [t.name for t in ranking.task_types]
    return {names[i] for i in ranking.keyword_hits.any(axis=0).nonzero()[0]}


def asked_clearly(ranking, triage) -> set[str]:
    names = [t.name for t in ranking.task_types]
    hits = named_tasks(ranking)
    best = ranking.scores.max(axis=0)
    strong = {names[i] for i, s in enumerate(best) if s >= CLEAR}
    asked = set(triage.asked) if triage is not None else set()
    return (hits | strong) & (asked | hits | strong)


def support(ranking, task: str) -> float:
    names = [t.name for t in ranking.task_types]
    return float(ranking.scores.max(axis=0)[names.index(task)]) if task in names else 0.0
