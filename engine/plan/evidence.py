"""Which plan to run: the rails' or the controller's draft, judged on this request.

The clause ranking says what the request clearly asks for: a task whose cue
keyword fires in a clause, or whose meaning is close to a clause's. A plan is
*supported* when each of its tasks is something some clause asks for at least a
little, and it *covers* the request when the clearly asked tasks are in it.

The draft is chosen when it is a usable plan (parsed, valid, not empty where the
request brought files or asked for a task) that covers more of the clearly asked
tasks than the rails' plan, and every task it adds beyond the rails' plan is either
clearly asked for or an intermediate step feeding one that is (the request implies
it: "summarise this recording" needs the recording transcribed first). At equal
coverage the rails' plan stands: on 68 TaskBench records from outside the dev
sample, Qwen2.5-Coder-1.5B's drafts chosen at equal coverage cost 4.6 points of edge
F1 for 0.5 of node F1. So a draft is only written
when it could win (``draft_needed``), which makes most plans cost no generation. Small
controllers tend to append tasks nobody asked for ("… and read it aloud"); such a
task is dropped when nothing asked for uses it (``pruned``), and a draft that still
holds one loses to the rails. They also copy text from the demonstrations: a draft whose
text argument is made of words found neither in the request nor in the chat log
loses too (the rails take text only from there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ..tasks import TaskType
from .graph import RESOURCE_RE, Plan, without

CLEAR = 0.75  # a clause score that clearly asks for a task (the ranking's first-step bar)


WORD_RE = re.compile(r"[^\W_]{3,}")
GROUNDED = 0.5  # the share of a text argument's words that must come from the request or the chat


def choose(plans: dict[str, Plan], ranking, triage, mode: str = "auto",
           sources: Sequence[str] = (), files: Mapping[str, str] | None = None,
           task_types: Mapping[str, TaskType] | None = None) -> tuple[str, str]:
    """``(writer, why)``: the name of the plan to run among ``plans``. ``sources`` are the
    texts a text argument may be taken from (the request and the chat log's turns);
    ``files`` the files at hand by modality, judged against the slots of ``task_types``."""
    rails, drafted = plans.get("rails"), plans.get("draft")
    if drafted is None:
        return ("rails", "the rails wrote the plan") if rails is not None else ("", "no plan was written")
    if rails is None or mode in ("always", "only"):
        return "draft", "the controller wrote the plan"
    if mode == "never":
        return "rails", "the rails wrote the plan"
    problem = (unusable(drafted, triage) or (invented(drafted, sources) if sources else "")
               or (misfed(drafted, files, task_types) if files and task_types else ""))
    if problem:
        return "rails", f"the draft {problem}"
    if ranking is None:
        return "draft", "no ranking to judge by: the controller's plan"
    clear = asked_clearly(ranking)
    drafted_tasks, rails_tasks = {t.task for t in drafted.tasks}, {t.task for t in rails.tasks}
    if len(clear & drafted_tasks) < len(clear & rails_tasks):
        return "rails", f"the draft leaves out {', '.join(sorted((clear & rails_tasks) - drafted_tasks))}"
    unasked = unasked_additions(drafted, rails_tasks, clear)
    if unasked:
        return "rails", f"nothing in the request asks for {', '.join(unasked)}"
    if len(clear & drafted_tasks) == len(clear & rails_tasks) and not unusable(rails, triage):
        return "rails", "the draft covers no more of what the request clearly asks for"
    return "draft", "the draft covers more of what the request clearly asks for"


def draft_needed(rails: Plan, ranking, triage) -> bool:
    """Is a draft worth writing beside this rails' plan? Only if it could be chosen: when
    the rails' plan is unusable or misses a task the request clearly asks for. Most
    requests are not like that, and planning them costs no generation at all."""
    if ranking is None or unusable(rails, triage):
        return True
    return not asked_clearly(ranking) <= {t.task for t in rails.tasks}


def unasked_additions(drafted: Plan, rails_tasks: set[str], clear: set[str]) -> list[str]:
    """Tasks the draft adds beyond the rails' plan that are neither clearly asked for nor
    feeding (directly or through others) a task that is asked for or in the rails' plan."""
    unasked = unasked_ids(drafted, rails_tasks, clear)
    return sorted({t.task for t in drafted.tasks if t.id in unasked})


def unasked_ids(drafted: Plan, rails_tasks: set[str], clear: set[str]) -> set[int]:
    wanted = {t.id for t in drafted.tasks if t.task in clear or t.task in rails_tasks}
    for task in reversed(drafted.tasks):  # a task feeding a wanted one is an implied step
        if task.id in wanted:
            wanted.update(d for d in task.dep if d >= 0)
    return {t.id for t in drafted.tasks} - wanted


def pruned(drafted: Plan, rails: Plan | None, ranking, triage) -> Plan:
    """The draft without the tasks nothing asks for that feed nothing asked for: the
    leaves a controller appends ("… and write a story about it"). What remains is
    judged as any draft."""
    if ranking is None or rails is None or not drafted.tasks:
        return drafted
    drop = unasked_ids(drafted, {t.task for t in rails.tasks}, asked_clearly(ranking))
    smaller = without(drafted, drop) if drop and len(drop) < len(drafted.tasks) else None
    if smaller is None:
        return drafted
    names = sorted({t.task for t in drafted.tasks if t.id in drop})
    smaller.repairs.append(f"dropped {', '.join(names)}: nothing in the request asks for it")
    return smaller


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


def misfed(plan: Plan, files: Mapping[str, str], task_types: Mapping[str, TaskType]) -> str:
    """Says which task of ``plan`` is given a file at hand of another kind than its slot
    takes (a draft detected objects in the user's lease.txt), else ''. The rails never do."""
    for task in plan.tasks:
        slots = task_types[task.task].args if task.task in task_types else {}
        for key, value in task.args.items():
            kind = files.get(value) if isinstance(value, str) else None
            if kind is not None and slots.get(key, kind) != kind:
                return f"gives {task.task} {value}, a {kind} file"
    return ""


def asked_clearly(ranking) -> set[str]:
    """The task types the request clearly asks for: those a cue word names, and each
    clause's own best task when it scores at least ``CLEAR``. The runner-up of a clause
    ("read the text in this scan": OCR first, document QA close behind) is asked only
    if a cue word names it."""
    names = [t.name for t in ranking.task_types]
    hits = {names[i] for i in ranking.keyword_hits.any(axis=0).nonzero()[0]}
    strong = {names[int(i)] for c, i in enumerate(ranking.scores.argmax(axis=1)) if ranking.scores[c, i] >= CLEAR}
    return hits | strong

