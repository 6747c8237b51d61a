"""One Engine, many runs: no per-request state shared between concurrent runs, new
settings from the next request on, and cancellation that reaches the planner and
the controller's generation."""

from __future__ import annotations

import json
import threading

import pytest

from engine import CancelToken, events as ev
from engine.controller import Controller, FirstChoice
from engine.errors import Cancelled
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.plan.options import PlanningOptions
from engine.plan.planner import default_planner
from engine.session import Engine


class Upper(Expert):
    model_id = "test/upper"
    tasks = ("translation", "summarization", "text-generation")

    def run(self, task, args, ctx):
        return ExpertResult(text=args["text"].upper())


class ByRequest(Controller):
    """Answers from the request in the last user message, so two runs in two threads
    each get their own replies however their calls interleave (a fake for the code
    around the controller)."""

    name = "by-request"
    accepts_grammar = True

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None):
        word = messages[-1]["content"].splitlines()[0].split()[-1]
        return json.dumps([{"task": "translation", "id": 0, "args": {"text": word}}])

    def stream(self, messages, *, max_tokens=512, cancel=None):
        yield "done: " + messages[-1]["content"].split("Results:")[-1].strip()


# -- concurrency ---------------------------------------------------------------------------
def test_two_plans_at_once_in_one_planner_keep_their_own_traces():
    planner = default_planner(FirstChoice())
    requests = {"a": ("Transcribe meeting.wav and summarize it.", {"meeting.wav": "audio"}),
                "b": ("What animal is in cat.png? Then say it out loud.", {"cat.png": "image"})}
    alone = {k: planner.plan(*r) for k, r in requests.items()}
    together, barrier = {}, threading.Barrier(2)

    def plan(key):
        barrier.wait(timeout=30)
        together[key] = [planner.plan(*requests[key]) for _ in range(5)]

    threads = [threading.Thread(target=plan, args=(k,)) for k in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for key, results in together.items():
        for result in results:
            assert result.plan.to_list() == alone[key].plan.to_list()
            assert result.trace.to_dict() == alone[key].trace.to_dict()
    assert alone["a"].trace.attachments == {"meeting.wav": "audio"}
    assert alone["b"].trace.attachments == {"cat.png": "image"}


def test_two_runs_at_once_in_one_engine_keep_their_own_records(settings):
    engine = Engine(settings, controller=ByRequest(), registry=ExpertRegistry([Upper()]))
    outcomes, barrier = {}, threading.Barrier(2)

    def run(word):
        barrier.wait(timeout=30)
        outcomes[word] = list(engine.run(f"translate {word}"))

    threads = [threading.Thread(target=run, args=(w,)) for w in ("alpha", "omega")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for word, events in outcomes.items():
        done = events[-1]
        assert isinstance(done, ev.AnswerDone), events[-1]
        assert done.record["tasks"]["0"]["text"] == word.upper()
        assert done.record["request"] == f"translate {word}"
        assert {e.run_id for e in events} == {done.record["run_id"]}
    runs = engine.history.runs()
    assert sorted(r.request for r in runs) == ["translate alpha", "translate omega"]
    assert all(r.status == "done" for r in runs)


# -- new settings, next request ------------------------------------------------------------------
def test_update_applies_the_memory_budget_at_once_and_moves_the_data_folder(settings, tmp_path):
    engine = Engine(settings.with_(memory_budget_mb=1000), controller=ByRequest(),
                    registry=ExpertRegistry([Upper()]))
    assert engine.memory.budget_mb == 1000
    engine.update(engine.settings.with_(memory_budget_mb=300))
    assert engine.memory.budget_mb == 300
    moved = settings.with_(home=tmp_path / "elsewhere")
    engine.update(moved)
    done = list(engine.run("translate hola"))[-1]
    assert done.record["run_dir"].startswith(str(tmp_path / "elsewhere" / "runs"))
    assert engine.history.path == moved.db_path and len(engine.history.runs()) == 1


def test_update_rebuilds_the_controller_when_its_settings_change(settings, monkeypatch):
    import engine.controller as controllers

    built = []

    def load(s):
        built.append(s.controller)
        return ByRequest()

    monkeypatch.setattr(controllers, "load_controller", load)
    engine = Engine(settings, registry=ExpertRegistry([Upper()]))
    list(engine.run("translate a"))
    engine.update(engine.settings.with_(max_workers=3))  # not a controller setting
    list(engine.run("translate b"))
    engine.update(engine.settings.with_(controller="/models/other.gguf"))
    list(engine.run("translate c"))
    assert built == ["", "/models/other.gguf"]


# -- cancellation reaches the planner and the tokens ------------------------------------------------
class CancelAfter(CancelToken):
    """Cancelled once it has been asked ``n`` times (the controller asks between tokens)."""

    def __init__(self, n: int):
        super().__init__()
        self.asked, self.n = 0, n

    @property
    def cancelled(self) -> bool:
        self.asked += 1
        if self.asked > self.n:
            self.cancel()
        return super().cancelled


@pytest.mark.slow
def test_cancel_stops_generation_between_tokens(llm):
    """The real SmolLM2: a call asked for 300 tokens stops a few tokens after the cancel."""
    messages = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    whole = llm.complete_after(messages, "", max_tokens=60)
    cancel = CancelAfter(5)
    with pytest.raises(Cancelled):
        llm.complete_after(messages, "", max_tokens=300, cancel=cancel)
    assert 5 < cancel.asked < 12  # checked at every token, stopped right after
    assert len(whole) > 100  # uncancelled, the same prompt runs on


@pytest.mark.slow
def test_esc_stops_a_step_by_step_plan_within_one_controller_call(llm, monkeypatch):
    """The real SmolLM2 planning unguided (a controller call per step): cancelled during
    the first call, the plan stops there; no second call starts."""
    planner = default_planner(llm, options=PlanningOptions(guided=False, free_text=True))
    cancel, starts = CancelAfter(3), []
    real = llm.complete_after

    def counted(*args, **kwargs):
        starts.append(kwargs.get("cancel"))
        return real(*args, **kwargs)

    monkeypatch.setattr(llm, "complete_after", counted)
    with pytest.raises(Cancelled):
        planner.plan("Summarize this: the meeting moved to Friday because the room was booked; "
                     "then translate the summary and read it aloud", cancel=cancel)
    assert len(starts) == 1 and starts[0] is cancel


@pytest.mark.slow
def test_esc_during_planning_cancels_the_run(settings, llm):
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Upper()]))
    events = list(engine.run("Write a poem about the sea and then translate it into French",
                             cancel=CancelAfter(2)))
    assert isinstance(events[-1], ev.RunCancelled) and events[-1].stage == "plan"
    assert engine.history.runs()[0].status == "cancelled"


def test_the_engine_builds_its_planner_with_the_planning_options_it_was_given(settings):
    rails_only = Engine(settings, controller=FirstChoice(), planning=PlanningOptions(draft="never"))
    assert rails_only.planner.options.draft == "never"
    plan, _, trace = rails_only.plan_only("Transcribe meeting.wav and summarize it")
    assert [t.task for t in plan.tasks] == ["automatic-speech-recognition", "summarization"]
    assert "draft" not in trace.candidates
    assert Engine(settings, controller=FirstChoice()).planner.options == PlanningOptions()


def test_a_follow_up_turn_records_only_the_user_s_own_files(settings, tmp_path):
    """The chat log's files are brought into a follow-up's run, but the turn the history keeps
    holds what the user attached: the earlier picture is the first turn's, not copied into
    every later one (which named it page.png, page-2.png, … in the next plans)."""
    note = tmp_path / "note.txt"
    note.write_text("The meeting moved to Friday.")
    engine = Engine(settings, controller=ByRequest(), registry=ExpertRegistry([Upper()]))
    first = [e for e in engine.run("translate this note", [str(note)]) if isinstance(e, ev.AnswerDone)]
    conversation = engine.history.conversations(limit=1)[0].id
    second = [e for e in engine.run("and again, word", conversation=conversation) if isinstance(e, ev.AnswerDone)]
    assert first and second
    users = [t for t in engine.history.chat_history(conversation) if t["role"] == "user"]
    assert [len(t.get("files", [])) for t in users] == [1, 0]
