"""The controller's contract: what every controller offers, and what it may add.

A controller is the chat model that plans, picks models and answers. Every one has
``complete`` (a whole reply, optionally constrained) and ``stream`` (reply pieces).
What only some can do is declared as attributes, never probed:

* ``supports_prefix`` — it can continue an assistant reply the caller has begun
  (``complete_after``), so a plan can be written one task per call under a grammar
  built for that position;
* ``accepts_grammar`` — it honours a GBNF grammar (llama.cpp, in process or as a
  server);
* ``accepts_schema`` — it honours a JSON schema (``response_format``), the
  constraint OpenAI-compatible servers without GBNF understand.

``choose`` is the one call the step-by-step planner makes: given the choices for
the next piece of a plan it returns that piece. The default asks the model (or
takes the only possible piece without asking); a rule such as ``FirstChoice``
(measuring the planning rails without a model) overrides it.

Every call takes a ``CancelToken``; a controller checks it between generated
tokens (or chunks) and raises ``Cancelled``, so Esc stops a plan within one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..cancel import CancelToken


@dataclass
class GenerationStats:
    """Seconds spent generating, for the benchmarks' overhead ratios."""

    seconds: float = 0.0
    calls: int = 0


class Controller:
    name: str = "controller"
    supports_prefix: bool = False
    accepts_grammar: bool = False
    accepts_schema: bool = False

    def __init__(self) -> None:
        self.stats = GenerationStats()

    @property
    def key(self) -> str:
        """What tells this controller from another for what is measured of it (its planning)."""
        return self.name

    def load(self) -> None:
        """Load the model now (the window warms up with this); a no-op where nothing loads."""

    def prime(self, messages: list[dict]) -> str:
        """Make prompts that begin with ``messages`` (a fixed start) cheap to continue, where
        the controller can keep evaluated prompt states; returns how ("off" where it cannot)."""
        return "off"

    def complete(self, messages: list[dict], *, grammar: str | None = None, schema: dict | None = None,
                 max_tokens: int = 512, cancel: CancelToken | None = None) -> str:
        raise NotImplementedError

    def stream(self, messages: list[dict], *, max_tokens: int = 512,
               cancel: CancelToken | None = None) -> Iterator[str]:
        raise NotImplementedError

    def complete_after(self, messages: list[dict], prefix: str, *, grammar: str | None = None,
                       max_tokens: int = 256, cancel: CancelToken | None = None) -> str:
        """Continue an assistant reply that starts with ``prefix`` (``supports_prefix`` only)."""
        raise NotImplementedError(f"{self.name} cannot continue a reply it did not begin")

    def choose(self, choices, messages: list[dict], reply: str, *, max_tokens: int = 120,
               cancel: CancelToken | None = None) -> str:
        """The next piece of a plan written one task at a time (``engine.plan.grammar.StepChoices``)."""
        forced = choices.forced()
        if forced is not None:
            return forced
        return self.complete_after(messages, reply, grammar=choices.gbnf(), max_tokens=max_tokens, cancel=cancel)


class FirstChoice(Controller):
    """A rule in place of a model: at every step of a plan, the first alternative.

    What the planning rails alone would write (``scripts/eval_taskbench.py
    --no-controller``); it answers nothing else."""

    name = "first-choice"
    supports_prefix = True

    def choose(self, choices, messages, reply, *, max_tokens=120, cancel=None) -> str:
        """The only piece; else end the plan where that is allowed (an unguided step: the
        rails asked for no more); else the first alternative."""
        forced = choices.forced()
        if forced is not None:
            return forced
        if ["]"] in choices.alternatives:
            return "]"
        return choices.first() or "]"

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None) -> str:
        return "[]"

    def stream(self, messages, *, max_tokens=512, cancel=None) -> Iterator[str]:
        return iter(())
