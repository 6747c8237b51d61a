"""Plan parsing, validation and repair (no model needed)."""

import json

import pytest

from engine.errors import PlanError
from engine.plan.graph import Task, parse, repair, validate


def test_valid_plan_is_kept_as_is():
    raw = json.dumps([
        {"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "cat.png"}},
        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}},
    ])
    plan = parse(raw, attachments={"cat.png": "image"})
    assert [t.task for t in plan.tasks] == ["image-classification", "text-to-speech"]
    assert plan.tasks[1].dep == [0]
    assert plan.repairs == []


def test_deps_are_rebuilt_from_resources():
    plan = repair([
        {"task": "automatic-speech-recognition", "id": 0, "dep": [5], "args": {"audio": "a.wav"}},
        {"task": "summarization", "id": 1, "dep": [-1], "args": {"text": "<resource>-0"}},
    ])
    assert plan.tasks[0].dep == [-1]
    assert plan.tasks[1].dep == [0]
    assert any("dep rebuilt" in r for r in plan.repairs)


def test_generated_tag_and_renumbering():
    plan = repair([
        {"task": "nonsense-task", "id": 0, "dep": [-1], "args": {"text": "x"}},
        {"task": "Image Classification", "id": 1, "dep": [-1], "args": {"image": "p.jpg"}},
        {"task": "text-to-speech", "id": 2, "dep": [1], "args": {"text": "<GENERATED>-1"}},
    ])
    assert [t.task for t in plan.tasks] == ["image-classification", "text-to-speech"]
    assert plan.tasks[1].args == {"text": "<resource>-0"}
    assert plan.tasks[1].dep == [0]


def test_forward_and_dangling_references_are_removed_and_refilled():
    plan = repair([
        {"task": "image-classification", "id": 0, "args": {"image": "<resource>-3"}},
    ], attachments={"dog.jpg": "image"})
    assert plan.tasks[0].args == {"image": "dog.jpg"}
    assert any("dangling" in r for r in plan.repairs)


def test_missing_input_filled_from_earlier_output_of_that_modality():
    plan = repair([
        {"task": "text-to-image", "id": 0, "args": {"text": "a red boat"}},
        {"task": "object-detection", "id": 1, "args": {}},
    ])
    assert plan.tasks[1].args == {"image": "<resource>-0"}
    assert plan.tasks[1].dep == [0]


def test_task_without_required_input_is_dropped():
    plan = repair([{"task": "image-classification", "id": 0, "args": {}}])
    assert plan.tasks == []


def test_prose_around_json_and_odd_shapes():
    plan = parse('Sure! Here is the plan: [{"task": "translation", "id": 0, "dep": [-1], '
                 '"args": {"text": "hola"}}] hope it helps')
    assert plan.tasks[0].task == "translation"
    assert len(repair({"task": "translation", "args": "bonjour"})) == 1
    assert repair([]).tasks == []


def test_not_json_is_a_plan_error():
    with pytest.raises(PlanError):
        parse("I cannot do that")


def test_validate_reports_bad_edges():
    tasks = [Task(0, "text-to-speech", [-1], {"text": "hi"}),
             Task(1, "image-classification", [0], {"image": "<resource>-0"})]
    problems = validate(tasks)
    assert any("produces audio" in p for p in problems)
    assert validate([Task(0, "translation", [-1], {"text": "hi"})]) == []


def test_repeated_task_is_dropped_and_references_follow_the_first():
    plan = repair([
        {"task": "automatic-speech-recognition", "id": 0, "args": {"audio": "a.wav"}},
        {"task": "automatic-speech-recognition", "id": 1, "args": {"audio": "a.wav"}},
        {"task": "summarization", "id": 2, "args": {"text": "<resource>-1"}},
    ])
    assert [t.task for t in plan.tasks] == ["automatic-speech-recognition", "summarization"]
    assert plan.tasks[1].args == {"text": "<resource>-0"} and plan.tasks[1].dep == [0]
    assert any("repeats task 0" in r for r in plan.repairs)


def test_reference_of_the_wrong_type_is_replaced_by_one_that_fits():
    plan = repair([
        {"task": "image-classification", "id": 0, "args": {"image": "cat.png"}},
        {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-0"}},
        {"task": "summarization", "id": 2, "args": {"text": "<resource>-1"}},  # speech is audio, not text
    ], attachments={"cat.png": "image"})
    assert plan.tasks[2].args == {"text": "<resource>-0"}
    assert any("cannot take <resource>-1" in r for r in plan.repairs)
    assert validate(plan.tasks) == []


def test_a_file_slot_takes_only_a_file_at_hand_or_an_earlier_output():
    """A draft that names a file nobody brought ("birdsong.jpg" for the recording birdsong.m4a)
    loses that task; an attached file, or an earlier output, stays."""
    raw = ('[{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "birdsong.jpg"}},'
           ' {"task": "audio-classification", "id": 1, "dep": [-1], "args": {"audio": "birdsong.m4a"}}]')
    plan = parse(raw, attachments={"birdsong.m4a": "audio"})
    assert [(t.task, t.args) for t in plan.tasks] == [("audio-classification", {"audio": "birdsong.m4a"})]
    assert "'image' names no image at hand ('birdsong.jpg')" in plan.repairs[0]
    # a wrong name where a file of the kind is at hand: the slot takes that file
    plan = parse('[{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "photo.png"}}]',
                 attachments={"photo.jpg": "image"})
    assert plan.tasks[0].args == {"image": "photo.jpg"}
    # a file at hand of the wrong kind gives way to one of the right kind; with none, the executor refuses it
    plan = parse('[{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "notes.txt"}}]',
                 attachments={"notes.txt": "text", "photo.jpg": "image"})
    assert plan.tasks[0].args == {"image": "photo.jpg"}
    plan = parse('[{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "clip.wav"}}]',
                 attachments={"clip.wav": "audio"})
    assert plan.tasks[0].args == {"image": "clip.wav"}
