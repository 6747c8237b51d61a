"""Steps a plan implies but a writer left out.

A ControlNet task (``<kind>-text-to-image``) draws from a control map of its kind:
a pose skeleton, an edge map, a depth map. Fed a photo, it draws from the photo's
pixels as if they were the map. "A new picture in the same pose as this photo" is
two steps, the map and the drawing; writers, small and large, often write only the
second. ``add_control_maps`` puts the map-making step in front of any ControlNet
task whose image is not a map of its kind (a file named for its kind, such as
``pose.png``, is taken as a map the user made).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Mapping

from ..tasks import TaskType
from .graph import RESOURCE_RE, Plan, Task, renumber

DRAWS_FROM_MAP = "-text-to-image"
ALSO_MAKES = {"depth": ("depth-estimation",), "seg": ("image-segmentation",)}  # maps by another name


def map_makers(kind: str) -> set[str]:
    return {f"{kind}-control", *ALSO_MAKES.get(kind, ())}


def add_control_maps(plan: Plan, task_types: Mapping[str, TaskType]) -> list[str]:
    """Insert the ``<kind>-control`` step each ControlNet task needs; returns notes."""
    notes: list[str] = []
    position = 0
    while position < len(plan.tasks):
        task = plan.tasks[position]
        kind = task.task[: -len(DRAWS_FROM_MAP)] if task.task.endswith(DRAWS_FROM_MAP) else ""
        maker = f"{kind}-control"
        image = str(task.args.get("image", ""))
        if kind and maker in task_types and image and not _is_map(plan, image, kind):
            # the map goes in at this position; this task and later ones move up one
            plan.tasks = renumber(plan.tasks, {t.id: t.id + (t.id >= position) for t in plan.tasks})
            plan.tasks.insert(position, Task(position, maker, [-1], {"image": image}))
            plan.tasks[position + 1].args["image"] = f"<resource>-{position}"
            notes.append(f"task {position + 1} ({task.task}) draws from a control map: {maker} makes it first")
            position += 1
        position += 1
    for task in plan.tasks:  # the maps and the tasks that now take them
        task.dep = task.references() or [-1]
    return notes


def _is_map(plan: Plan, image: str, kind: str) -> bool:
    refs = RESOURCE_RE.findall(image)
    if refs:
        source = int(refs[0])
        return 0 <= source < len(plan.tasks) and plan.tasks[source].task in map_makers(kind)
    return kind in PurePath(image).stem.lower()
