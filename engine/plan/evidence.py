"""Which plan to run: the rails' or the controller's draft, judged on this request.

The rails' plan stands whenever it is usable; the controller's draft is written, and can
run, only where it is not (empty although the request asks for work, or not a valid
graph). That rule is measured, not assumed (``scripts/replay_evidence.py`` replays runs
that kept both candidates, on read data): on the 36 TaskBench dev records where
Qwen2.5-Coder-1.5B wrote a draft, the earlier rule (the draft wins when it covers more of
the tasks the clauses clearly ask for, adding only implied steps) chose 11 drafts, 7 of
them worse than the rails' plan, 4 the same, none better (node / edge F1 over those
records 63.5 / 31.2 against 66.7 / 36.9 with the rails' plans); on the first two everyday
sets it chose 5, 2 of them losing a right plan and none winning one. Stricter forms (the
draft must keep every task of the rails' plan; it may add only the best task of a clause
the rails' plan leaves without one) still chose drafts that lost.
The controller still makes every choice inside the rails' steps and answers directly.
A controller that has shown on labelled requests that its own plans are right more often
(``calibration``: a bigger GGUF the user brings) is planned with ``mode="prefer"``: its
usable draft runs, and the rails' plan only where the draft is not usable.

A draft that is written is judged all the same: it loses if it could not be read, is empty
although work is asked, is not a valid graph, makes up its text (a text argument whose words
come neither from the request nor the chat log: small controllers copy the demonstrations),
or gives a task a file of another kind than its slot takes. Tasks it appends that nothing
asks for and that feed nothing asked for are dropped first (``pruned``): small controllers
tend to add "… and read it aloud".
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
    if mode == "prefer":  # this controller's drafts were measured better (``calibration``)
        return "draft", "the controller's plan: its plans were measured better than the rails'"
    if ranking is None:  # unguided rails: the controller chose every step either way
        return "draft", "no ranking to judge by: the controller's plan"
    trouble = unusable(rails, triage)
    if not trouble:
        return "rails", "the rails' plan is usable: it stands"
    return "draft", f"the rails' plan {trouble}: the controller's draft"


def draft_needed(rails: Plan, ranking, triage) -> bool:
    """Is a draft worth writing beside this rails' plan? Only if it could be chosen: when
    the rails' plan is unusable (or there is no ranking to guide the rails). Most requests
    are not like that, and planning them costs no generation at all."""
    return ranking is None or bool(unusable(rails, triage))


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

