"""Which plan runs: the rails' plan whenever it is usable; the controller's draft, judged
on the request, only where it is not."""

from __future__ import annotations

import numpy as np

from engine.plan.evidence import choose
from engine.plan.graph import Plan
from engine.plan.ranking import Ranking
from engine.plan.triage import Triage
from engine.tasks import TASK_TYPES as T

NAMES = ["automatic-speech-recognition", "summarization", "text-to-speech", "audio-classification"]


def ranking(scores: dict[str, float], hits=()) -> Ranking:
    types = [T[n] for n in NAMES]
    row = np.array([[scores.get(n, 0.1) for n in NAMES]], dtype=np.float32)
    return Ranking(["the request"], types, row, np.array([[n in hits for n in NAMES]]))


def plan(*tasks) -> Plan:
    return Plan.from_list([{"id": i, "task": name, "dep": [i - 1] if linked and i else [-1], "args": {}}
                           for i, (name, linked) in enumerate(tasks)])


ASKS = Triage(False, "it asks for work")


USABLE = "the rails' plan is usable: it stands"


def test_a_usable_rails_plan_stands_against_any_draft():
    rk = ranking({"automatic-speech-recognition": 0.8, "summarization": 0.9, "text-to-speech": 0.4,
                  "audio-classification": 0.6}, hits={"summarization"})
    rails = plan(("automatic-speech-recognition", False), ("summarization", True))
    # a draft that appends a task nobody asked for …
    appended = plan(("automatic-speech-recognition", False), ("summarization", True), ("text-to-speech", True))
    assert choose({"rails": rails, "draft": appended}, rk, ASKS) == ("rails", USABLE)
    # … and one that covers more of what the clauses clearly ask for: measured, such drafts lost
    # more plans than they won
    partial = plan(("audio-classification", False))
    covering = plan(("automatic-speech-recognition", False), ("summarization", True))
    assert choose({"rails": partial, "draft": covering}, rk, ASKS) == ("rails", USABLE)


def test_a_draft_runs_where_the_rails_plan_is_unusable():
    rk = ranking({"automatic-speech-recognition": 0.5, "summarization": 0.9}, hits={"summarization"})
    draft = plan(("automatic-speech-recognition", False), ("summarization", True))
    assert choose({"rails": Plan(raw="[]"), "draft": draft}, rk, ASKS) == (
        "draft", "the rails' plan is empty although the request asks for work: the controller's draft")
    invalid = Plan(plan(("summarization", False)).tasks, repairs=["task 0 refers to later task 1"])
    assert choose({"rails": invalid, "draft": draft}, rk, ASKS)[0] == "draft"
    # with no ranking to guide the rails, the controller chose every step: its own plan runs
    assert choose({"rails": plan(("summarization", False)), "draft": draft}, None, ASKS)[0] == "draft"


def test_a_draft_that_leaves_out_a_clearly_asked_task_loses():
    rk = ranking({"summarization": 0.9, "text-to-speech": 0.9}, hits={"summarization", "text-to-speech"})
    rails = plan(("summarization", False), ("text-to-speech", True))
    draft = plan(("summarization", False))
    assert choose({"rails": rails, "draft": draft}, rk, ASKS)[0] == "rails"


def test_an_empty_or_unreadable_draft_loses_when_the_request_asks_for_work():
    rk = ranking({"summarization": 0.9}, hits={"summarization"})
    rails = plan(("summarization", False))
    assert choose({"rails": rails, "draft": Plan(raw="[]")}, rk, ASKS)[0] == "rails"
    unreadable = Plan(repairs=["the controller's plan is not JSON: 'x'"], raw="x")
    assert choose({"rails": rails, "draft": unreadable}, rk, ASKS)[0] == "rails"
    assert choose({"draft": plan(("summarization", False))}, rk, ASKS)[0] == "draft"  # no rails: the draft


def test_a_draft_that_makes_up_its_text_loses_to_the_rails():
    rk = ranking({"text-to-speech": 0.9}, hits={"text-to-speech"})
    rails = Plan.from_list([{"id": 0, "task": "text-to-speech", "dep": [-1], "args": {"text": "It is a tabby cat."}}])
    copied = Plan.from_list([{"id": 0, "task": "text-to-speech", "dep": [-1],
                              "args": {"text": "Good morning, everyone"}}])  # from a demonstration
    sources = ["Now read that aloud.", "What animal is in chelsea.png?", "It is a tabby cat."]
    name, why = choose({"rails": rails, "draft": copied}, rk, ASKS, sources=sources)
    assert (name, why) == ("rails", "the draft makes up its text 'Good morning, everyone'")
    reworded = Plan.from_list([{"id": 0, "task": "text-to-speech", "dep": [-1], "args": {"text": "a tabby cat"}},
                               {"id": 1, "task": "summarization", "dep": [0], "args": {"text": "<resource>-0"}}])
    assert choose({"rails": rails, "draft": reworded}, rk, ASKS, sources=sources)[1] != \
        "the draft makes up its text 'a tabby cat'"


def test_a_draft_is_written_only_where_the_rails_plan_is_unusable():
    from engine.plan.evidence import draft_needed

    rk = ranking({"automatic-speech-recognition": 0.6, "summarization": 0.9, "audio-classification": 0.6},
                 hits={"summarization"})
    assert not draft_needed(plan(("automatic-speech-recognition", False), ("summarization", True)), rk, ASKS)
    assert not draft_needed(plan(("audio-classification", False)), rk, ASKS)  # usable, though it misses one
    assert draft_needed(Plan(raw="[]"), rk, ASKS)  # an empty plan where work is asked
    assert draft_needed(plan(("summarization", False)), None, ASKS)  # no ranking guided the rails


def test_an_unasked_leaf_is_dropped_and_the_rest_of_the_draft_judged():
    from engine.plan.evidence import pruned

    rk = ranking({"automatic-speech-recognition": 0.8, "summarization": 0.9, "text-to-speech": 0.2},
                 hits={"summarization", "automatic-speech-recognition"})
    rails = plan(("automatic-speech-recognition", False))  # misses summarization
    draft = Plan.from_list([
        {"id": 0, "task": "automatic-speech-recognition", "dep": [-1], "args": {"audio": "talk.wav"}},
        {"id": 1, "task": "text-to-speech", "dep": [0], "args": {"text": "<resource>-0"}},  # nobody asked
        {"id": 2, "task": "summarization", "dep": [0], "args": {"text": "<resource>-0"}},
    ])
    smaller = pruned(draft, rails, rk, ASKS)
    assert [(t.id, t.task, t.args, t.dep) for t in smaller.tasks] == [
        (0, "automatic-speech-recognition", {"audio": "talk.wav"}, [-1]),
        (1, "summarization", {"text": "<resource>-0"}, [0])]
    assert smaller.repairs[-1] == "dropped text-to-speech: nothing in the request asks for it"
    assert pruned(smaller, rails, rk, ASKS) is smaller  # nothing more to drop
    assert choose({"rails": Plan(raw="[]"), "draft": smaller}, rk, ASKS)[0] == "draft"


def test_a_clause_clearly_asks_for_its_best_task_not_for_a_close_runner_up():
    from engine.plan.evidence import asked_clearly

    # "read the text in this scan": OCR first, document QA close behind and also above the bar
    rk = ranking({"automatic-speech-recognition": 0.95, "summarization": 0.78})
    assert asked_clearly(rk) == {"automatic-speech-recognition"}
    # a cue word the user wrote still names the runner-up
    named = ranking({"automatic-speech-recognition": 0.95, "summarization": 0.78}, hits={"summarization"})
    assert asked_clearly(named) == {"automatic-speech-recognition", "summarization"}


def test_a_draft_that_gives_a_task_a_file_of_another_kind_loses_to_the_rails():
    # the draft classifies the sound of the user's text file; the rails summarize it
    rk = ranking({"audio-classification": 0.9, "summarization": 0.8}, hits={"audio-classification", "summarization"})
    rails = Plan.from_list([{"id": 0, "task": "summarization", "dep": [-1], "args": {"text": "lease.txt"}}])
    draft = Plan.from_list([{"id": 0, "task": "audio-classification", "dep": [-1], "args": {"audio": "lease.txt"}},
                            {"id": 1, "task": "summarization", "dep": [-1], "args": {"text": "lease.txt"}}])
    files = {"lease.txt": "text"}
    assert choose({"rails": rails, "draft": draft}, rk, ASKS, files=files, task_types=T) == (
        "rails", "the draft gives audio-classification lease.txt, a text file")
    # the same draft on a recording is a usable plan, judged as any other
    draft.tasks[0].args["audio"] = "lease.wav"
    assert choose({"rails": Plan(raw="[]"), "draft": draft}, rk, ASKS, files={**files, "lease.wav": "audio"},
                  task_types=T)[0] == "draft"
