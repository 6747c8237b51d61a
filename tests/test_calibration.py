"""A controller earns the planner's trust by measurement: ``hgpt calibrate`` plans labelled
requests with its own plans preferred, beside the rails', and the planner lets it write the
plans from then on only when they were right where the rails' were wrong clearly more often
than the reverse."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.errors import UserInputError
from engine.plan.calibration import (CHECKS_PATH, MIN_WON, RATIO, Verdict, draft_mode, load_checks,
                                     load_verdicts, planner_digest, save_verdict)
from engine.plan.checks import score_plan
from engine.plan.evidence import choose
from engine.plan.graph import Plan
from engine.plan.triage import Triage
from engine.session import Engine
from engine.tasks import TASK_TYPES
from engine.testing import PlanWriter


# Labels the rails cannot meet (a depth map for "what animal is this?"): only a controller
# that writes the labelled plan itself is right on them.
ODD = [{"id": f"odd-{n}", "request": f"What animal is in {name}?", "files": {name: "image"},
        "must": ["depth-estimation"], "links": [], "allow": None, "empty_ok": False}
       for n, name in enumerate(["pet.jpg", "yard.png", "zoo.jpg"])]
PLAIN = {"id": "plain", "request": "Transcribe meeting.wav and summarize it.", "files": {"meeting.wav": "audio"},
         "must": ["automatic-speech-recognition", "summarization"],
         "links": [["automatic-speech-recognition", "summarization"]], "allow": None, "empty_ok": False}


def depth_of(case) -> list[dict]:
    return [{"id": 0, "task": "depth-estimation", "args": {"image": next(iter(case["files"]))}}]


def write_checks(path, cases) -> str:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return str(path)


def test_the_shipped_labelled_requests_are_valid():
    cases = load_checks(CHECKS_PATH)
    assert len(cases) == 80 and len({c["id"] for c in cases}) == 80
    for case in cases:
        named = [t for entry in case["must"] + [s for link in case["links"] for s in link] for t in entry.split("|")]
        assert set(named) <= set(TASK_TYPES), case["id"]
        assert set(case["files"].values()) <= {"image", "audio", "text"}
        assert case["empty_ok"] == (not case["must"])


def test_bad_labelled_requests_say_which_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PLAIN) + "\n{not json\n")
    with pytest.raises(UserInputError, match="bad.jsonl, line 2: not JSON"):
        load_checks(bad)
    bad.write_text('{"must": []}\n')
    with pytest.raises(UserInputError, match='line 1: a labelled request needs a "request" text'):
        load_checks(bad)
    bad.write_text("\n")
    with pytest.raises(UserInputError, match="holds no labelled requests"):
        load_checks(bad)


def test_hgpt_calibrate_says_in_one_line_what_is_wrong_with_the_file(hgpt_home, tmp_path, capsys):
    bad = tmp_path / "mine.jsonl"
    bad.write_text(json.dumps(PLAIN) + "\n{not json\n")
    assert main(["calibrate", "--checks", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hgpt: ") and "mine.jsonl, line 2: not JSON" in err and err.count("\n") == 1
    assert not (hgpt_home / "planning.json").exists()


@pytest.mark.parametrize("won, lost, preferred", [
    (MIN_WON, 0, True), (MIN_WON - 1, 0, False), (2 * RATIO, 2, True), (2 * RATIO - 1, 2, False), (0, 0, False)])
def test_a_controller_is_preferred_only_when_it_won_clearly(won, lost, preferred):
    verdict = Verdict("m.gguf", 80, 60, 60 + won - lost, won, lost, "abc", "today", planner_digest())
    assert verdict.preferred is preferred
    assert ("its own plans run" in verdict.summary()) is preferred


def test_verdicts_are_kept_per_controller_and_an_unreadable_file_is_none(tmp_path):
    path = tmp_path / "planning.json"
    assert load_verdicts(path) == {}
    better = Verdict("big.gguf (7 bytes)", 80, 60, 70, 10, 0, "abc", "today", planner_digest())
    worse = Verdict("small.gguf (3 bytes)", 80, 60, 50, 1, 11, "abc", "today", planner_digest())
    save_verdict(path, better)
    save_verdict(path, worse)
    assert load_verdicts(path) == {better.controller: better, worse.controller: worse}

    class Named:
        def __init__(self, key):
            self.key = key

    assert draft_mode(Named(better.controller), path) == "prefer"
    assert draft_mode(Named(worse.controller), path) == "auto"
    assert draft_mode(Named("never measured"), path) == "auto"
    assert draft_mode(Named(better.controller), path, default="never") == "never"  # an explicit choice stands
    path.write_text("{half a file")
    assert load_verdicts(path) == {} and draft_mode(Named(better.controller), path) == "auto"


def test_a_verdict_holds_only_for_the_planner_it_was_measured_with(tmp_path):
    """After an upgrade the rails may plan otherwise: a controller that beat the old rails has
    not shown it beats these, so the rails' plan stands until it is measured again."""
    from engine import provenance

    path = tmp_path / "planning.json"
    assert len(planner_digest()) == 12 and provenance.planner_code() == provenance.planner_code()
    earlier = Verdict("big.gguf (7 bytes)", 80, 60, 70, 10, 0, "abc", "today", "0123456789ab")
    save_verdict(path, earlier)

    class Named:
        key = earlier.controller

    assert earlier.preferred and not earlier.current
    assert draft_mode(Named(), path) == "auto"
    assert "measured with an earlier version of hgpt's planner" in earlier.summary()
    # a verdict kept before verdicts named their planner loads, and is not current
    kept = json.loads(path.read_text())
    del kept[earlier.controller]["planner"]
    path.write_text(json.dumps(kept))
    old = load_verdicts(path)[earlier.controller]
    assert old.won == 10 and not old.current and draft_mode(Named(), path) == "auto"
    save_verdict(path, Verdict(earlier.controller, 80, 60, 70, 10, 0, "abc", "now", planner_digest()))
    assert draft_mode(Named(), path) == "prefer"


def test_the_planner_s_code_digest_follows_its_data(tmp_path, monkeypatch):
    from engine import provenance as prov

    (tmp_path / "cues.json").write_text("{}")
    before = prov._source_digest(str(tmp_path), ("*.py", "*.json"))
    (tmp_path / "cues.json").write_text('{"a": 1}')
    prov._source_digest.cache_clear()
    assert prov._source_digest(str(tmp_path), ("*.py", "*.json")) != before
    assert prov._source_digest(str(tmp_path)) == prov._source_digest(str(tmp_path / "no such folder"))  # no .py: version only


def test_a_preferred_draft_runs_when_usable_and_the_rails_plan_where_it_is_not():
    asks = Triage(False, "it asks for work")
    rails = Plan.from_list([{"id": 0, "task": "image-classification", "args": {"image": "pet.jpg"}}])
    drafted = Plan.from_list(depth_of(ODD[0]))
    assert choose({"rails": rails, "draft": drafted}, None, asks, "prefer")[0] == "draft"
    made_up = Plan.from_list([{"id": 0, "task": "summarization", "args": {"text": "a story about seven dragons"}}])
    assert choose({"rails": rails, "draft": made_up}, None, asks, "prefer", ["What animal is in pet.jpg?"]) == (
        "rails", "the draft makes up its text 'a story about seven dragons'")
    assert choose({"rails": rails, "draft": Plan(raw="[]")}, None, asks, "prefer")[0] == "rails"


def test_a_controller_that_plans_better_is_measured_so_and_then_writes_the_plans(settings, tmp_path):
    checks = write_checks(tmp_path / "checks.jsonl", ODD + [PLAIN])
    better = PlanWriter({c["request"]: depth_of(c) for c in ODD} | {PLAIN["request"]: [
        {"id": 0, "task": "automatic-speech-recognition", "args": {"audio": "meeting.wav"}},
        {"id": 1, "task": "summarization", "args": {"text": "<resource>-0"}}]})
    engine = Engine(settings, controller=better)
    assert engine.planner.options.draft == "auto"
    events = list(engine.calibrate(checks))
    steps, verdict = events[:-1], events[-1]
    assert [(e.case_id, e.rails_right, e.preferred_right, e.writer) for e in steps] == [
        ("odd-0", False, True, "draft"), ("odd-1", False, True, "draft"), ("odd-2", False, True, "draft"),
        ("plain", True, True, "draft")]
    assert (verdict.cases, verdict.rails_right, verdict.preferred_right, verdict.won, verdict.lost) == (4, 1, 4, 3, 0)
    assert verdict.preferred and verdict.controller == "plan-writer"
    assert load_verdicts(settings.planning_file)["plan-writer"] == verdict
    # the planner built after the verdict lets the controller write the plans
    assert engine.planner.options.draft == "prefer"
    plan, _, trace = engine.plan_only("What animal is in pet.jpg?", [str(image(tmp_path, "pet.jpg"))], as_run=False)
    assert [t.task for t in plan.tasks] == ["depth-estimation"] and trace.chosen == "draft"
    # a run says so: its PlanReady event (and so the CLI, the window and the record) names the writer
    from engine import events as ev

    ready = next(e for e in engine.run("What animal is in pet.jpg?", [str(image(tmp_path, "pet.jpg"))])
                 if isinstance(e, ev.PlanReady))
    assert ready.writer == "draft"
    assert ready.why == "the controller's plan: its plans were measured better than the rails'"
    assert Engine(settings, controller=PlanWriter({})).planner.options.draft == "prefer"  # kept in the data folder


def test_a_controller_that_plans_no_better_keeps_the_rails(settings, tmp_path):
    checks = write_checks(tmp_path / "checks.jsonl", ODD + [PLAIN])
    # a usable draft that stops at the transcript: the rails' plan held the summary too
    transcript = {"id": 0, "task": "automatic-speech-recognition", "args": {"audio": "meeting.wav"}}
    worse = PlanWriter({PLAIN["request"]: [transcript]})
    engine = Engine(settings, controller=worse)
    *steps, verdict = engine.calibrate(checks)
    assert [(e.rails_right, e.preferred_right) for e in steps] == [(False, False)] * 3 + [(True, False)]
    assert (verdict.won, verdict.lost, verdict.preferred) == (0, 1, False)
    assert engine.planner.options.draft == "auto"
    plan, _, trace = engine.plan_only(PLAIN["request"], [str(audio(tmp_path))], as_run=False)
    assert score_plan(PLAIN, plan.to_list())["passed"] and trace.chosen == "rails"


def test_a_controller_that_cannot_continue_a_reply_is_not_measured(settings):
    from engine.testing import ScriptedController

    with pytest.raises(UserInputError, match="always writes its own plans"):
        list(Engine(settings, controller=ScriptedController()).calibrate())


def image(folder, name):
    from PIL import Image

    path = folder / name
    Image.new("RGB", (8, 8), "white").save(path)
    return path


def audio(folder):
    import wave

    path = folder / "meeting.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 1600)
    return path


@pytest.mark.slow
def test_hgpt_calibrate_measures_the_real_controller_and_keeps_its_verdict(hgpt_home, tmp_path, capsys):
    """The command as a user runs it, with the real SmolLM2 through llama.cpp."""
    checks = write_checks(tmp_path / "checks.jsonl", [PLAIN, ODD[0]])
    assert main(["calibrate", "--controller", "smollm2-135m-instruct", "--threads", "2", "--checks", checks]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[1/2] plain: rails right")
    assert out[1].startswith("[2/2] odd-0: rails wrong")
    assert "of 2 labelled requests" in out[2] and out[2].endswith("the rails' plan stands")
    (verdict,) = json.loads((hgpt_home / "planning.json").read_text()).values()
    assert verdict["controller"].startswith("SmolLM2-135M-Instruct") and verdict["cases"] == 2
