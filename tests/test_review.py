"""Plan review: the editing model, and the engine hook running the edited plan."""

from __future__ import annotations

import json


from engine import events as ev
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.session import Engine
from engine.plan.graph import Plan, Task
from engine.plan.review import PlanDraft
from engine.testing import ScriptedController, collect, scripted_planner


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation", "summarization")

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class Reverse(Expert):
    model_id = "test/reverse"
    tasks = ("translation",)

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"][::-1])


def three_tasks() -> list[Task]:
    return [Task(0, "translation", [-1], {"text": "hola"}),
            Task(1, "summarization", [0], {"text": "<resource>-0"}),
            Task(2, "translation", [1], {"text": "then <resource>-1"})]


def test_delete_renumbers_and_clears_references():
    draft = PlanDraft(three_tasks())
    draft.set_model(2, "test/upper")
    draft.delete(0)
    assert [t.id for t in draft.tasks] == [0, 1]
    assert draft.tasks[0].args == {} and draft.tasks[0].dep == [-1]
    assert draft.tasks[1].args == {"text": "then <resource>-0"} and draft.tasks[1].dep == [0]
    assert draft.models == {1: "test/upper"}
    assert draft.problems() == ["task 0: missing argument 'text'"]
    draft.set_arg(0, "text", "a new text")
    assert draft.problems() == [] and draft.edited


def test_changing_task_type_keeps_shared_args_and_validates():
    draft = PlanDraft(three_tasks(), registry=ExpertRegistry([Upper(), Reverse()]))
    assert set(draft.models_for(0)) == {"test/upper", "test/reverse"}
    draft.set_task(0, "image-classification")
    assert draft.tasks[0].args == {}
    assert "task 0: missing argument 'image'" in draft.problems()
    draft.set_task(0, "translation")
    draft.set_arg(0, "text", "hola")
    draft.set_model(0, "test/nope")
    assert any("not an installed model" in p for p in draft.problems())
    draft.set_model(1, "test/reverse")
    assert any("cannot do summarization" in p for p in draft.problems())


def test_engine_runs_the_edited_plan(settings):
    llm = ScriptedController([json.dumps([t.to_dict() for t in three_tasks()]), "done"])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper(), Reverse()]),
                    planner=scripted_planner(llm))
    asked = []

    def review(plan: Plan, problems):
        asked.append(problems)
        draft = PlanDraft(plan, registry=engine.registry)
        if not problems:  # first round: hand back a broken edit to see it refused
            draft.delete(0)
            return draft.result()
        draft.delete(0)
        draft.set_arg(0, "text", "edited")
        draft.set_model(1, "test/reverse")
        return draft.result()

    events = collect(engine.run("three steps", review=True), review)
    assert asked == [[], ["task 0: missing argument 'text'"]]
    reviewed = next(e for e in events if isinstance(e, ev.PlanReviewed))
    assert [t["task"] for t in reviewed.tasks] == ["summarization", "translation"]
    assert reviewed.models == {"1": "test/reverse"} and reviewed.edited
    finished = {e.task_id: e for e in events if isinstance(e, ev.TaskFinished)}
    assert finished[0].text == "EDITED" and finished[1].text == "DETIDE neht"
    chosen = {e.task_id: e for e in events if isinstance(e, ev.ModelSelected)}
    assert chosen[1].reason == "chosen by you in plan review"
    record = events[-1].record
    assert [t["task"] for t in record["plan"]] == ["summarization", "translation"]
    assert "plan edited by the user in review" in record["repairs"]
    assert len(llm.calls) == 2  # the pinned model needed no selection call


def test_declining_the_plan_cancels_the_run(settings):
    llm = ScriptedController([json.dumps([three_tasks()[0].to_dict()])])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper()]), planner=scripted_planner(llm))
    events = collect(engine.run("x", review=True), lambda plan, problems: None)
    assert events[-1].kind == "RunCancelled" and events[-1].stage == "review"
    assert not any(isinstance(e, ev.TaskStarted) for e in events)


def test_approving_unchanged_plan_is_not_marked_edited(settings):
    llm = ScriptedController([json.dumps([three_tasks()[0].to_dict()]), "ok"])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper()]), planner=scripted_planner(llm))
    events = collect(engine.run("x", review=True), lambda plan, problems: plan)
    reviewed = next(e for e in events if isinstance(e, ev.PlanReviewed))
    assert reviewed.edited is False and events[-1].kind == "AnswerDone"
