"""Fuzzing the parts that read what a model wrote: plan parsing and repair, and resource
substitution. Any input gives a valid plan (or resolved arguments) or a clear
``HgptError``; never another exception. A repaired plan always holds its invariants:
ids 0..n-1 in order, known task types, required arguments present, dependencies and
``<resource>-N`` references only to earlier tasks, ``dep`` rebuilt from the references."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from engine.errors import HgptError, PlanError
from engine.execute import resolve_args
from engine.experts.base import ExpertResult
from engine.plan.graph import MAX_TASKS, RESOURCE_RE, Task, parse, repair, validate
from engine.tasks import TASK_TYPES

NAMES = list(TASK_TYPES)
ARG_KEYS = sorted({k for t in TASK_TYPES.values() for k in t.args}) + ["arguments", "input", "image_url", ""]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_leaf = st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats() | st.text(max_size=30)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=5)
                          | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)
ref = st.integers(-3, 12).map(lambda n: f"<resource>-{n}") | st.integers(-3, 12).map(lambda n: f"<GENERATED>-{n}")
arg_text = st.one_of(ref, st.text(max_size=20), st.sampled_from(["chelsea.png", "clip.wav", "/etc/passwd",
                                                                 "../../x", "http://a/b.png"]),
                     st.lists(ref | st.text(max_size=8), max_size=3).map(" ".join))
task_like = st.fixed_dictionaries(
    {"task": st.sampled_from(NAMES + ["Image Classification", "TEXT_TO_SPEECH", "nope", ""]) | st.text(max_size=12)},
    optional={"id": st.integers(-2, 12) | st.text(max_size=3) | st.floats() | st.none(),
              "dep": st.lists(st.integers(-2, 12) | st.text(max_size=2) | st.floats(), max_size=4)
              | st.integers(-2, 12) | st.text(max_size=4) | st.none(),
              "args": st.dictionaries(st.sampled_from(ARG_KEYS), arg_text | json_value, max_size=4)
              | arg_text | st.lists(arg_text, max_size=3) | json_value,
              "arguments": st.dictionaries(st.sampled_from(ARG_KEYS), arg_text, max_size=3)})
plan_like = st.lists(task_like | json_value, max_size=12) | st.fixed_dictionaries(
    {}, optional={"tasks": st.lists(task_like, max_size=10), "plan": st.lists(task_like, max_size=10)}) | task_like
attachments = st.dictionaries(st.sampled_from(["chelsea.png", "clip.wav", "page.png", "movie.mp4"]),
                              st.sampled_from(["image", "audio", "video", "text"]), max_size=3)


def assert_valid(plan) -> None:
    assert len(plan.tasks) <= MAX_TASKS
    for index, task in enumerate(plan.tasks):
        assert task.id == index and task.task in TASK_TYPES
        assert all(isinstance(v, str) and v.strip() for v in task.args.values())
        assert set(task.args) <= set(TASK_TYPES[task.task].args)
        for key in TASK_TYPES[task.task].required_args():
            assert key in task.args
        refs = task.references()
        assert all(0 <= r < task.id for r in refs)
        assert task.dep == (refs or [-1])
        for m in RESOURCE_RE.finditer(" ".join(task.args.values())):
            assert m.group(0) == f"<resource>-{m.group(1)}"
    structural = [p for p in validate(plan.tasks) if "does not take" not in p]
    assert structural == []


@FUZZ
@given(plan_like, attachments)
def test_repair_turns_any_json_into_a_valid_plan_or_a_plan_error(data, files):
    try:
        plan = repair(data, attachments=files)
    except PlanError:
        return
    assert_valid(plan)
    json.dumps(plan.to_list())  # the record can always be saved


@FUZZ
@given(plan_like, st.sampled_from(["", "Here is the plan: ", "```json\n"]), st.sampled_from(["", " done", "\n```"]))
def test_parse_reads_json_wrapped_in_prose(data, before, after):
    try:
        raw = before + json.dumps(data) + after
    except ValueError:  # NaN and friends are not JSON
        return
    try:
        plan = parse(raw)
    except PlanError:
        return
    assert_valid(plan)


@FUZZ
@given(st.text(alphabet=string.printable + "[]{}\"'<>-é…", max_size=200))
@example("[" * 50_000)
@example('{"tasks": ' + "[" * 5000)
@example('[{"task": "summarization", "id": 1e400, "args": {"text": "x"}}]')
@example('[{"task": "summarization", "id": 0, "dep": [1e400, -Infinity], "args": {"text": "x"}}]')
@example('[{"task": "summarization", "id": NaN, "args": {"text": "<resource>-99999999999999999999"}}]')
def test_parse_of_any_text_is_a_plan_or_a_plan_error(raw):
    try:
        plan = parse(raw)
    except PlanError as exc:
        assert str(exc) and "\n" not in str(exc)[:200]
        return
    assert_valid(plan)


# -- resource substitution ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    for name in ("0-out.png", "1-speech.wav", "inputs/chelsea.png", "inputs/clip.wav"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    return folder


outputs = st.dictionaries(
    st.integers(-2, 8),
    st.builds(lambda text, files: (text, files), st.text(max_size=20),
              st.lists(st.sampled_from(["0-out.png", "1-speech.wav", "../../etc/passwd", "/etc/hosts", "x.txt"]),
                       max_size=2)),
    max_size=4)
any_value = arg_text | st.none() | st.integers() | st.floats() | st.text(max_size=40)


@FUZZ
@given(st.sampled_from(NAMES), st.integers(0, 8), st.dictionaries(st.sampled_from(ARG_KEYS), any_value, max_size=3),
       outputs, st.booleans())
def test_resolve_args_gives_values_or_an_hgpt_error(run_dir, name, task_id, args, produced, offline):
    ttype = TASK_TYPES[name]
    results = {n: ExpertResult(text=t, files=[run_dir / f for f in files]) for n, (t, files) in produced.items()}
    staged = {"chelsea.png": run_dir / "inputs" / "chelsea.png", "clip.wav": run_dir / "inputs" / "clip.wav"}
    task = Task(task_id, name, [-1], args)
    try:
        resolved = resolve_args(task, ttype, results, staged, run_dir=run_dir, offline=offline)
    except HgptError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for key, value in resolved.items():
        if ttype.args.get(key, "text") == "text":
            assert isinstance(value, str)
        else:  # a file slot: an attachment or an output inside the run folder, never anything else
            assert isinstance(value, Path)
            assert value.resolve().is_relative_to(run_dir.resolve())
