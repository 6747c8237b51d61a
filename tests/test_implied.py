"""Steps a plan implies: a ControlNet drawing needs the control map of its kind first."""

from __future__ import annotations

from engine.plan.graph import Plan
from engine.plan.implied import add_control_maps
from engine.tasks import TASK_TYPES as T


def tasks(plan: Plan) -> list[tuple]:
    return [(t.id, t.task, t.args, t.dep) for t in plan.tasks]


def test_a_controlnet_task_fed_a_photo_gets_its_map_made_first():
    plan = Plan.from_list([
        {"id": 0, "task": "openpose-text-to-image", "dep": [-1], "args": {"text": "an astronaut", "image": "runner.jpg"}},
        {"id": 1, "task": "image-to-text", "dep": [0], "args": {"image": "<resource>-0"}},
    ])
    notes = add_control_maps(plan, T)
    assert tasks(plan) == [
        (0, "openpose-control", {"image": "runner.jpg"}, [-1]),
        (1, "openpose-text-to-image", {"text": "an astronaut", "image": "<resource>-0"}, [0]),
        (2, "image-to-text", {"image": "<resource>-1"}, [1]),  # the later reference follows its task
    ]
    assert notes == ["task 1 (openpose-text-to-image) draws from a control map: openpose-control makes it first"]


def test_a_map_already_made_or_brought_is_used_as_it_is():
    made = Plan.from_list([
        {"id": 0, "task": "depth-estimation", "dep": [-1], "args": {"image": "street.jpg"}},
        {"id": 1, "task": "depth-text-to-image", "dep": [0], "args": {"text": "a village", "image": "<resource>-0"}},
    ])
    brought = Plan.from_list([
        {"id": 0, "task": "canny-text-to-image", "dep": [-1], "args": {"text": "a tower", "image": "canny_edges.png"}},
    ])
    assert add_control_maps(made, T) == [] and add_control_maps(brought, T) == []
    assert [t.task for t in made.tasks] == ["depth-estimation", "depth-text-to-image"]


def test_a_drawing_from_a_generated_picture_also_gets_the_map():
    plan = Plan.from_list([
        {"id": 0, "task": "text-to-image", "dep": [-1], "args": {"text": "a dancer"}},
        {"id": 1, "task": "canny-text-to-image", "dep": [0], "args": {"text": "a robot", "image": "<resource>-0"}},
    ])
    add_control_maps(plan, T)
    assert [(t.task, t.args.get("image"), t.dep) for t in plan.tasks] == [
        ("text-to-image", None, [-1]), ("canny-control", "<resource>-0", [0]),
        ("canny-text-to-image", "<resource>-1", [1])]
