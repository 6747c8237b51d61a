"""What the welcome page shows: this computer, what works offline now, which controller fits.

``machine()`` reads the memory (``engine.memory``), the CPU cores and the GPUs
(``engine.devices.gpus``: no torch import). ``offers(registry)`` lists the task
types the installed experts can run here right now — exactly those, each with an
example request a person can click (``EXAMPLES``; a request that needs a picture
names the sample the window attaches, ``sample_for``: a person for the tasks that look
for people, else the cat; one that needs a recording says so).
``controller_advice`` names the controller ``engine.controller.packs.recommend``
picks for this machine's memory among every controller models.lock pins, whether it
is installed, and its download size when the network is allowed. ``welcome`` puts
them together; the desktop's welcome page draws exactly this and holds no logic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..tasks import TASK_TYPES

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE_IMAGE = SAMPLES / "chelsea.png"
# the picture an example is tried on where a cat would not do: the built-in detector and
# segmenter find people and faces, and a pose is a person's
PERSON_TASKS = ("object-detection", "image-segmentation", "openpose-control", "openpose-text-to-image")
PERSON_IMAGE = SAMPLES / "astronaut.png"

# task type -> an example request; "image" / "audio" marks what it needs attached
EXAMPLES: dict[str, tuple[str, str]] = {
    "token-classification": ("Find the people and places in: Ada Lovelace met Charles Babbage in London.", ""),
    "text-classification": ("Is this review positive or negative? The soup was cold and the waiter rude.", ""),
    "zero-shot-classification": ("Is 'the striker scored twice' about sports, politics or business?", ""),
    "question-answering": ("From 'The Nile flows north into the Mediterranean', where does the Nile flow?", ""),
    "summarization": ("Summarize: The meeting moved to Thursday because the room was booked. Bring the "
                      "quarterly figures and the new logo drafts; lunch is provided.", ""),
    "translation": ("Translate 'Where is the railway station?' into French.", ""),
    "conversational": ("Hi! What can you do offline?", ""),
    "text-generation": ("Write a four-line poem about a lighthouse.", ""),
    "text2text-generation": ("Correct the grammar: she don't like apples.", ""),
    "sentence-similarity": ("How similar are 'A cat sits on the mat' and 'A kitten rests on a rug'?", ""),
    "fill-mask": ("Fill in the missing word: Paris is the [MASK] of France.", ""),
    "tabular-classification": ("Classify the table in this picture.", "image"),
    "image-classification": ("What animal is in this picture?", "image"),
    "object-detection": ("Find and box the faces in this picture.", "image"),
    "image-segmentation": ("Separate the person from the background of this picture.", "image"),
    "depth-estimation": ("Make a depth map of this picture.", "image"),
    "image-to-text": ("Describe this picture in words.", "image"),
    "visual-question-answering": ("What colour is the animal in this picture?", "image"),
    "document-question-answering": ("What is the total on this receipt?", "image"),
    "image-to-image": ("Turn this picture into a watercolour painting.", "image"),
    "text-to-image": ("Draw a red bicycle leaning on a blue wall.", ""),
    "text-to-video": ("Make a short video of waves on a beach.", ""),
    "automatic-speech-recognition": ("Write down what is said in this recording.", "audio"),
    "audio-classification": ("What kind of sound is in this recording?", "audio"),
    "text-to-speech": ("Say 'Good morning, have a nice day' out loud.", ""),
    "audio-to-audio": ("Change the voice in this recording.", "audio"),
    "canny-control": ("Trace the edges of this picture.", "image"),
    "depth-control": ("Make a depth control map of this picture.", "image"),
    "hed-control": ("Draw the soft outlines of this picture.", "image"),
    "mlsd-control": ("Find the straight lines in this picture.", "image"),
    "normal-control": ("Make a surface-normal map of this picture.", "image"),
    "openpose-control": ("Draw the pose of the person in this picture.", "image"),
    "scribble-control": ("Turn this picture into a scribble.", "image"),
    "seg-control": ("Make a segmentation control map of this picture.", "image"),
}
for _kind in ("canny", "depth", "hed", "mlsd", "normal", "openpose", "scribble", "seg"):
    EXAMPLES.setdefault(f"{_kind}-text-to-image",
                        (f"Draw a castle that follows the {_kind} shape of this picture.", "image"))


@dataclass(frozen=True)
class Machine:
    memory_mb: float  # 0 when it could not be read
    cores: int
    gpus: list = field(default_factory=list)  # engine.devices.Gpu

    def lines(self) -> list[str]:
        """In words: ``16.0 GB of memory``, ``8 CPU cores``, ``NVIDIA … with 8.0 GB``."""
        out = [f"{self.memory_mb / 1024:.1f} GB of memory" if self.memory_mb else "memory: unknown",
               f"{self.cores} CPU core{'s' * (self.cores != 1)}"]
        for gpu in self.gpus:
            memory = (f"shares the {gpu.memory_mb / 1024:.1f} GB of memory" if gpu.shared
                      else f"with {gpu.memory_mb / 1024:.1f} GB of its own memory" if gpu.memory_mb else "")
            out.append(f"GPU: {gpu.name}" + (f", {memory}" if memory else ""))
        if not self.gpus:
            out.append("no GPU found: models run on the CPU")
        return out


@dataclass(frozen=True)
class Offer:
    """A task type that works here now, with an example request."""

    task: str
    description: str
    example: str
    needs: str  # "" | "image" | "audio": what the example needs attached
    models: tuple[str, ...]  # the installed experts that run it
    sample: str = ""  # the shipped picture the example is tried on ("" when none fits or none is shipped)


@dataclass(frozen=True)
class ControllerAdvice:
    name: str  # models.lock name
    title: str
    size_mb: float
    installed: bool
    in_use: bool
    offline: bool
    how: str = ""  # the command that installs it (models.lock's install hint)

    def sentence(self) -> str:
        size = f"{self.size_mb / 1024:.1f} GB" if self.size_mb >= 1024 else f"{self.size_mb:.0f} MB"
        if self.installed:
            return (f"{self.title} fits this computer and is installed"
                    + (" — hgpt uses it." if self.in_use else "; choose it in Settings to use it."))
        if self.offline:
            return (f"{self.title} would fit this computer but is not installed. Offline mode is on: "
                    "turn it off in Settings to download it.")
        return f"{self.title} fits this computer: a {size} download. Install it with ./scripts/setup."


@dataclass(frozen=True)
class Welcome:
    machine: Machine
    offers: list[Offer]
    controller: ControllerAdvice | None


def machine() -> Machine:
    from ..devices import gpus
    from ..memory import total_memory_mb

    return Machine(total_memory_mb(), os.cpu_count() or 1, gpus())


def offers(registry, task_types=TASK_TYPES) -> list[Offer]:
    """Every task type an installed expert can run here now (``missing()`` is None), in
    the task table's order."""
    runs: dict[str, list[str]] = {}
    for expert in registry:
        if expert.missing() is None:
            for task in expert.tasks:
                runs.setdefault(task, []).append(expert.model_id)
    out = []
    for name, ttype in task_types.items():
        if name in runs:
            request, needs = EXAMPLES.get(name, (f"Run {name} on this.", next(iter(ttype.inputs), "")))
            needs = needs if needs in ("image", "audio") else ""
            out.append(Offer(name, ttype.description, request, needs, tuple(sorted(runs[name])),
                             sample_for(name) if needs == "image" else ""))
    return out


def sample_for(task: str) -> str:
    """The shipped picture an example of ``task`` is tried on: the astronaut where the task
    looks for a person, else the cat; '' when it is not shipped."""
    path = PERSON_IMAGE if task in PERSON_TASKS else SAMPLE_IMAGE
    return str(path) if path.is_file() else ""


def controller_advice(settings, memory_mb: float, options=None) -> ControllerAdvice | None:
    from ..controller.packs import controllers, recommend

    try:
        options = controllers() if options is None else options
    except Exception:  # models.lock unreadable: the page says nothing about controllers
        return None
    best = recommend(memory_mb or float("inf"), options, installed_only=False)
    if best is None:
        return None
    current = (settings.controller or "").strip()
    in_use = best.installed and (current == best.name or (not current and recommend(
        memory_mb or float("inf"), options) == best))
    return ControllerAdvice(best.name, best.title, best.size_mb, best.installed, in_use, settings.offline,
                            "" if best.installed else _install_hint(best.name))


def _install_hint(name: str) -> str:
    from ..models import load_lock

    try:
        return next((e.install_hint() for e in load_lock() if e.name == name), "")
    except Exception:  # an unreadable lock: no command to show
        return ""


def welcome(registry, settings) -> Welcome:
    here = machine()
    return Welcome(here, offers(registry), controller_advice(settings, here.memory_mb))
