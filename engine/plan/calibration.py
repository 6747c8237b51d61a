"""Does this controller plan better than the rails? Measured per controller, so the planner
lets a controller that plans better write the plans.

The rails' plan stands whenever it is usable (``evidence``): measured on read data, the
drafts of the controllers hgpt ships lost where the rails had a plan. A controller the user
brings (a bigger GGUF) may plan better, and ``measure`` lets it show that. Each request of
``demos/checks.jsonl`` (80 requests as people write them, with what their plans must hold;
written for this by a writer who saw neither the planner nor the other sets, and used for
nothing else) is planned once with the draft preferred (``draft="prefer"``), which keeps
the rails' plan beside the one that runs; both are scored by ``checks.score_plan``.

The verdict is kept per controller (``Controller.key``) in the data folder
(``Settings.planning_file``). It prefers the controller's plans when they were right where
the rails' were wrong at least ``MIN_WON`` times and at least ``RATIO`` times as often as
the reverse; else the rails' plan stands. The engine reads it when it builds the planner
(``draft_mode``). Measuring is a stream of ``CaseChecked`` events ending in a ``Verdict``;
the cancel token is checked between requests and inside each controller call. A verdict
holds for the planner it was measured with (``provenance.planner_code``): after an upgrade
the rails' plan stands until the controller is measured again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..cancel import CancelToken
from ..errors import UserInputError
from .checks import score_plan

CHECKS_PATH = Path(__file__).parent / "demos" / "checks.jsonl"
MIN_WON = 3  # requests the controller's plan must win before it is preferred
RATIO = 2  # ... and how many times as many as it loses


@dataclass(frozen=True)
class CaseChecked:
    """One labelled request planned: was the rails' plan right, and the preferred one."""

    index: int  # 1-based
    total: int
    case_id: str
    rails_right: bool
    preferred_right: bool
    writer: str  # whose plan would run: "rails", "draft" or "triage"

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Verdict:
    """What was measured of one controller's planning, and what the planner does with it."""

    controller: str  # Controller.key
    cases: int
    rails_right: int
    preferred_right: int  # the controller's plan where usable, else the rails'
    won: int  # right where the rails' plan was wrong
    lost: int  # wrong where the rails' plan was right
    checks: str  # sha256 of the labelled requests, first 12 digits
    measured: str  # UTC date and time
    planner: str = ""  # provenance.planner_code() of the hgpt it was measured with, first 12 digits

    @property
    def current(self) -> bool:
        """Measured with this hgpt's planner: after an upgrade the rails may plan otherwise."""
        return self.planner == planner_digest()

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def preferred(self) -> bool:
        return self.won >= MIN_WON and self.won >= RATIO * self.lost

    def summary(self) -> str:
        who = ("its own plans run" if self.preferred else "the rails' plan stands") if self.current else (
            "measured with an earlier version of hgpt's planner, so the rails' plan stands until it is measured again")
        return (f"{self.controller}: of {self.cases} labelled requests its plans were right on "
                f"{self.preferred_right}, the rails' on {self.rails_right}; right where the rails were wrong "
                f"{self.won}, wrong where they were right {self.lost}: {who}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self), "preferred": self.preferred, "current": self.current}


def load_checks(path: str | Path = CHECKS_PATH) -> list[dict]:
    """The labelled requests of ``path`` (one JSON object a line; see ``checks``)."""
    cases = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                case = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserInputError(f"{path}, line {n}: not JSON ({exc.msg})") from None
            if not isinstance(case, dict) or not isinstance(case.get("request"), str):
                raise UserInputError(f"{path}, line {n}: a labelled request needs a \"request\" text")
            cases.append(case)
    if not cases:
        raise UserInputError(f"{path} holds no labelled requests")
    return cases


def digest(cases: Sequence[Mapping]) -> str:
    text = "\n".join(json.dumps(c, sort_keys=True) for c in cases)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def measure(planner, cases: Sequence[Mapping], cancel: CancelToken | None = None
            ) -> Iterator[CaseChecked | Verdict]:
    """Plan every labelled request in ``cases`` with ``planner``'s controller's plan preferred;
    yield how each went, then the ``Verdict``. ``planner`` is an ``engine.plan.Planner``."""
    cancel = cancel or CancelToken()
    controller = planner.controller
    if not getattr(controller, "supports_prefix", False):
        raise UserInputError(f"{controller.name} always writes its own plans: the rails need a controller "
                             "that can continue a reply (llama.cpp)")
    prefer = dataclasses.replace(planner, options=dataclasses.replace(planner.options, draft="prefer"))
    rails_right = preferred_right = won = lost = 0
    for index, case in enumerate(cases, 1):
        cancel.check()
        history = [dict(turn) for turn in case.get("history") or []]
        planned = prefer.plan(case["request"], dict(case.get("files") or {}), history, cancel=cancel)
        trace = planned.trace
        rails = trace.candidates.get("rails", planned.plan.to_list())  # triage or a follow-up: one plan
        right_rails = score_plan(case, rails)["passed"]
        right_preferred = score_plan(case, planned.plan.to_list())["passed"]
        rails_right += right_rails
        preferred_right += right_preferred
        won += right_preferred and not right_rails
        lost += right_rails and not right_preferred
        yield CaseChecked(index, len(cases), str(case.get("id", index)), right_rails, right_preferred,
                          trace.chosen or "rails")
    yield Verdict(controller.key, len(cases), rails_right, preferred_right, won, lost, digest(cases),
                  time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), planner_digest())


def planner_digest() -> str:
    from ..provenance import planner_code

    return planner_code()[:12]


# -- the verdicts kept in the data folder ------------------------------------------------
def load_verdicts(path: Path) -> dict[str, Verdict]:
    """Controller key -> its verdict; an unreadable file is no verdicts (measure again). A verdict
    kept before verdicts named their planner names none, so it is not ``current``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        fields = {f.name for f in dataclasses.fields(Verdict)}
        return {k: Verdict(**{f: v[f] for f in fields if f in v}) for k, v in data.items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def save_verdict(path: Path, verdict: Verdict) -> None:
    from ..record import write_json_atomic

    verdicts = load_verdicts(path)
    verdicts[verdict.controller] = verdict
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(path), {k: asdict(v) for k, v in verdicts.items()})


def draft_mode(controller, path: Path, default: str = "auto") -> str:
    """``"prefer"`` when ``controller`` was measured, with this hgpt's planner, to plan better than
    the rails, else ``default``."""
    if default != "auto":
        return default
    verdict = load_verdicts(path).get(getattr(controller, "key", ""))
    # the planner's digest (the engine's files hashed) only for a verdict that would prefer the controller
    return "prefer" if verdict is not None and verdict.preferred and verdict.current else default
