"""How the default planner is assembled: which tasks it offers, which demos it shows.

``default_planner`` is the one place that decides the planner's inputs for a
request; the planning-quality work (retrieval of demonstrations, narrowing the
task list) plugs in here.
"""

from __future__ import annotations

from .planner import Planner
from .tasks import TASK_TYPES

SEED_DEMOS = [
    {"request": "What animal is in this picture?", "attachments": {"pet.jpg": "image"},
     "plan": [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "pet.jpg"}}]},
    {"request": "Transcribe this recording, then read the transcript aloud.",
     "attachments": {"memo.wav": "audio"},
     "plan": [{"task": "automatic-speech-recognition", "id": 0, "dep": [-1], "args": {"audio": "memo.wav"}},
              {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}}]},
    {"request": "Hello! How are you today?", "attachments": {}, "plan": []},
]


def default_planner(controller, registry=None) -> Planner:
    return Planner(controller, list(TASK_TYPES.values()), demos=lambda request, files: SEED_DEMOS)
