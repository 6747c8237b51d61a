"""Fuzzing the parts that read what a model wrote: plan parsing and repair, and resource
substitution. Any input gives a valid plan (or resolved arguments) or a clear
``HgptError``; never another exception. A repaired plan always holds its invariants:
ids 0..n-1 in order, known task types, required arguments present, dependencies and
``<resource>-N`` references only to earlier tasks, ``dep`` rebuilt from the references.

"Or a ``PlanError``" alone would pass if every call raised one, so the properties are
also pinned from the other side: a plan valid by construction parses back unchanged
with no repair, a valid plan with one recoverable slip comes back as the original, most
near-valid plans (one field broken in any way) are repaired rather than rejected, and
JSON that is a list or an object is never rejected."""

from __future__ import annotations

import copy
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings, strategies as st

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


# -- plans valid by construction ------------------------------------------------------------------------
plain_text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and not RESOURCE_RE.search(s))
file_name = st.sampled_from(["chelsea.png", "clip.wav", "movie.mp4", "page 2.png", "Ünïcode.jpg"]) | plain_text


@st.composite
def valid_plans(draw, min_tasks: int = 0) -> list[dict]:
    """A plan as the planner's grammars write it: known task types, ids 0..n-1, each
    required argument (and maybe the optional ones) a non-blank string, ``<resource>-j``
    only for an earlier task whose output is the slot's modality, ``dep`` the sorted
    references (or [-1]), no task twice with the same arguments."""
    tasks: list[dict] = []
    for _ in range(draw(st.integers(min_tasks, MAX_TASKS))):  # a repeat is left out: maybe fewer
        name = draw(st.sampled_from(NAMES))
        ttype = TASK_TYPES[name]
        args = {}
        for key, modality in ttype.args.items():
            if key not in ttype.required_args() and not draw(st.booleans()):
                continue
            fits = [t["id"] for t in tasks if TASK_TYPES[t["task"]].output == modality]
            own = plain_text if modality == "text" else file_name
            if fits:
                refs = st.sampled_from(fits).map(lambda j: f"<resource>-{j}")
                own = own | refs | (st.tuples(plain_text, refs).map(" ".join) if modality == "text" else refs)
            args[key] = draw(own)
        if any(t["task"] == name and t["args"] == args for t in tasks):
            continue  # a repeated task is dropped by design: not a valid plan
        refs = sorted({int(n) for v in args.values() for n in RESOURCE_RE.findall(v)})
        tasks.append({"id": len(tasks), "task": name, "dep": refs or [-1], "args": args})
    assume(len(tasks) >= min_tasks)
    return tasks


@FUZZ
@given(valid_plans())
def test_a_valid_plan_parses_back_unchanged(tasks):
    raw = json.dumps(tasks)
    plan = parse(raw)
    assert plan.to_list() == tasks
    assert plan.repairs == []
    assert plan.raw == raw
    assert repair(copy.deepcopy(tasks)).to_list() == tasks


def _slips(tasks: list[dict], which: int) -> dict:
    """Ways a model writes a valid plan wrongly that lose nothing: each gives back ``tasks``."""
    task = tasks[which]
    ttype = TASK_TYPES[task["task"]]
    keys = list(task["args"])
    shifted = copy.deepcopy(tasks)
    for t in shifted:  # ids from 1, as HuggingGPT's demonstrations count
        t["id"] += 1
        t["dep"] = [d + 1 if d >= 0 else d for d in t["dep"]]
        t["args"] = {k: RESOURCE_RE.sub(lambda m: f"<resource>-{int(m.group(1)) + 1}", v) for k, v in t["args"].items()}
    slips = {
        "task name spelled out": _with(tasks, which, task=task["task"].replace("-", " ").title()),
        "task name shouted": _with(tasks, which, task=task["task"].upper().replace("-", "_")),
        "ids counted from 1": shifted,
        "dep written wrong": _with(tasks, which, dep=[which + 5, "x", None]),
        "dep left out": [{k: v for k, v in t.items() if k != "dep"} for t in tasks],
        "id left out": [{k: v for k, v in t.items() if k != "id"} for t in tasks],
        "<GENERATED>-N": [{**t, "args": {k: RESOURCE_RE.sub(r"<GENERATED>-\1", v) for k, v in t["args"].items()}}
                          for t in tasks],
        "arguments for args": _with(tasks, which, args=None, arguments=task["args"]),
        "a value in a list": _with(tasks, which, args={k: [v] if k == keys[0] else v for k, v in task["args"].items()}),
        "plan under a key": {"tasks": tasks},
    }
    if keys == list(ttype.args)[:len(keys)]:
        slips["args as a list"] = _with(tasks, which, args=[task["args"][k] for k in keys])
    if len(keys) == 1 and keys[0] == next(iter(ttype.args)):
        slips["args as a string"] = _with(tasks, which, args=task["args"][keys[0]])
    last = keys[-1]
    modality = ttype.args[last]
    earlier_same = [k for k, m in ttype.args.items() if m == modality][:[k for k, m in ttype.args.items()
                                                                          if m == modality].index(last)]
    if all(k in task["args"] for k in earlier_same):  # the renamed key can only go to its own slot
        slips["a key named by its modality"] = _with(
            tasks, which, args={(f"{modality}_input" if k == last else k): v for k, v in task["args"].items()})
    return slips


def _with(tasks: list[dict], which: int, **fields) -> list[dict]:
    out = copy.deepcopy(tasks)
    for key, value in fields.items():
        if value is None:
            out[which].pop(key, None)
        else:
            out[which][key] = value
    return out


@FUZZ
@given(valid_plans(min_tasks=1), st.data())
def test_a_valid_plan_with_one_slip_is_repaired_to_the_original(tasks, data):
    which = data.draw(st.integers(0, len(tasks) - 1), label="task")
    slips = _slips(tasks, which)
    name = data.draw(st.sampled_from(sorted(slips)), label="slip")
    wrapper = data.draw(st.sampled_from(["{}", "Here is the plan: {}", "```json\n{}\n```", "{} Done."]), label="prose")
    plan = parse(wrapper.format(json.dumps(slips[name])))
    assert plan.to_list() == tasks, name


# -- near-valid plans: one field broken in any way ----------------------------------------------------
def _break(tasks: list[dict], which: int, how: str, draw) -> list | dict | str:
    """``tasks`` with task ``which`` broken in one way a small model breaks plans."""
    task = tasks[which]
    ttype = TASK_TYPES[task["task"]]
    out = copy.deepcopy(tasks)
    if how in _slips(tasks, which):
        return _slips(tasks, which)[how]
    if how == "required argument missing":
        del out[which]["args"][draw(st.sampled_from(ttype.required_args()))]
    elif how == "reference to itself or later":
        key = draw(st.sampled_from(list(task["args"])))
        out[which]["args"][key] = f"<resource>-{draw(st.integers(which, which + 3))}"
    elif how == "reference to an output that does not fit":
        key = draw(st.sampled_from(list(task["args"])))
        out[which]["args"][key] = f"<resource>-{draw(st.integers(0, max(which - 1, 0)))}"
    elif how == "unknown task type":
        out[which]["task"] = draw(st.sampled_from(["image-captioning", "magic", "", "Text Classifier"]))
    elif how == "a stray item":
        out.insert(which, draw(json_value))
    elif how == "a task twice":
        out.insert(which + 1, {**copy.deepcopy(task), "id": which + 1})
        for t in out[which + 2:]:
            t["id"] += 1
            t["args"] = {k: RESOURCE_RE.sub(lambda m: f"<resource>-{int(m.group(1)) + (int(m.group(1)) > which)}", v)
                         for k, v in t["args"].items()}
    elif how == "an argument that is not a string":
        key = draw(st.sampled_from(list(task["args"])))
        out[which]["args"][key] = draw(st.none() | st.booleans() | st.integers() | st.dictionaries(st.text(), st.text()))
    elif how == "args not an object":
        out[which]["args"] = draw(st.none() | st.integers() | st.booleans())
    elif how == "an unknown argument":
        out[which]["args"][draw(st.sampled_from(["question", "prompt", "src", "url"]))] = draw(plain_text)
    elif how == "text cut short":
        raw = json.dumps(out)
        return raw[:draw(st.integers(len(raw) // 2, len(raw) - 1))]
    else:
        raise AssertionError(how)
    return out


BREAKS = ["required argument missing", "reference to itself or later", "reference to an output that does not fit",
          "unknown task type", "a stray item", "a task twice", "an argument that is not a string",
          "args not an object", "an unknown argument", "text cut short"]


def _dependents(tasks: list[dict], which: int) -> set[int]:
    """The tasks that take ``which``'s output, directly or through others."""
    found: set[int] = set()
    for i, t in enumerate(tasks):
        if i > which and any(d == which or d in found for d in t.get("dep", [])):
            found.add(i)
    return found


def test_most_near_valid_plans_are_repaired_rather_than_rejected():
    """A plan with one task broken (any of the slips above, or a break that may cost that
    task) is nearly always repaired: a valid plan keeping every other task, not a
    ``PlanError``. (A plan cut short keeps the tasks written before the cut.)"""
    outcomes: dict[str, list[bool]] = {}

    @settings(max_examples=400, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(valid_plans(min_tasks=2), st.data())
    def run(tasks, data):
        which = data.draw(st.integers(0, len(tasks) - 1))
        how = data.draw(st.sampled_from(BREAKS + sorted(_slips(tasks, which))))
        broken = _break(tasks, which, how, data.draw)
        try:
            plan = parse(broken if isinstance(broken, str) else json.dumps(broken))
        except PlanError:
            outcomes.setdefault(how, []).append(False)
            return
        assert_valid(plan)
        if how == "text cut short":  # the tasks written before the cut
            outcomes.setdefault(how, []).append(len(plan.tasks) >= 1)
            return
        assert plan.to_list()[:which] == tasks[:which], how  # a break is local: the tasks before it are kept
        # at most the broken task is lost, and what needed its output when the break was its name
        lost = 1 + (len(_dependents(tasks, which)) if how == "unknown task type" else 0)
        outcomes.setdefault(how, []).append(len(plan.tasks) >= len(tasks) - lost)

    run()
    repaired = [ok for results in outcomes.values() for ok in results]
    share = sum(repaired) / len(repaired)
    by_kind = {how: f"{sum(r)}/{len(r)}" for how, r in sorted(outcomes.items())}
    assert len(outcomes) >= len(BREAKS), f"some kinds of break were never tried: {by_kind}"
    assert share >= 0.85, f"only {share:.0%} of near-valid plans were repaired: {by_kind}"
    weak = {how: by_kind[how] for how, r in outcomes.items() if sum(r) / len(r) < 0.5}
    assert not weak, f"kinds of break mostly rejected: {weak}"


# -- anything at all -------------------------------------------------------------------------------
@FUZZ
@given(plan_like, attachments)
def test_repair_turns_any_json_into_a_valid_plan_or_a_plan_error(data, files):
    try:
        plan = repair(data, attachments=files)
    except PlanError:
        assert not isinstance(data, (list, dict)), "a list or an object is always read as a plan"
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
        assert not isinstance(data, (list, dict)), f"a list or an object in prose is always read: {raw[:80]!r}"
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


@FUZZ
@given(st.sampled_from([n for n in NAMES if "video" not in TASK_TYPES[n].args.values()]), st.data())
def test_resolve_args_gives_each_valid_argument_its_value(run_dir, name, data):
    """The other side of the property above: arguments that name an attachment or an
    earlier output of the right kind always resolve, to exactly that file or text."""
    ttype = TASK_TYPES[name]
    results = {0: ExpertResult(text="a cat", files=[run_dir / "0-out.png"]),
               1: ExpertResult(text=" meow \n", files=[run_dir / "1-speech.wav"]),
               2: ExpertResult(text="two cats")}
    staged = {"chelsea.png": run_dir / "inputs" / "chelsea.png", "clip.wav": run_dir / "inputs" / "clip.wav"}
    valid = {"image": {"<resource>-0": run_dir / "0-out.png", "chelsea.png": staged["chelsea.png"]},
             "audio": {"<resource>-1": run_dir / "1-speech.wav", " clip.wav ": staged["clip.wav"]},
             "text": {"<resource>-0": "a cat", "<resource>-1": "meow", "say <resource>-2, twice": "say two cats, twice",
                      "<resource>-0 and <resource>-1": "a cat and meow"}}
    args, expected = {}, {}
    for key, modality in ttype.args.items():
        if modality == "text" and data.draw(st.booleans()):
            args[key] = expected[key] = data.draw(plain_text)
        else:
            args[key] = data.draw(st.sampled_from(sorted(valid[modality])))
            expected[key] = valid[modality][args[key]]
    task = Task(3, name, [-1], args)
    resolved = resolve_args(task, ttype, results, staged, run_dir=run_dir, offline=data.draw(st.booleans()))
    assert resolved == expected
