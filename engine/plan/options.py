"""The planner's switches: ``PlanningOptions`` is their one list (each rail can be
switched off for the ablations in ``scripts/eval_taskbench.py``)."""

from __future__ import annotations

from dataclasses import dataclass

# whose plan runs: the rails' only | the rails' whenever usable (evidence chooses) | the
# controller's whenever usable (a controller measured to plan better: ``calibration``) |
# the controller's always | the controller's alone (no rails written)
DRAFT_MODES = ("never", "auto", "prefer", "always", "only")


@dataclass(frozen=True)
class PlanningOptions:
    grammar: bool = True  # constrain the reply to valid plans
    stepwise: bool = True  # one task per call, with per-position grammars
    narrow: bool = True  # rank task types per clause and offer the top ones
    retrieval: bool = True  # retrieved demonstrations (else none)
    top_k: int = 5  # task types on offer
    n_demos: int = 3
    list_all: bool = True  # list every task type in the prompt (a cacheable prefix), else the offered
    free_text: bool = False  # text slots may take any short string (else spans of the request)
    guided: bool = True  # step k is steered to the k-th clause's task types
    per_clause: int = 1  # how many of a clause's task types the controller chooses from
    max_tasks: int = 8  # the most tasks one plan holds (the step-by-step rails and a whole-plan draft)
    max_tokens: int = 400  # a whole plan in one call
    step_tokens: int = 120  # one task of a plan written step by step
    triage: bool = True  # answer directly what brings nothing for an expert (else always plan)
    draft: str = "auto"  # the controller's own plan: one of DRAFT_MODES
    relink: bool = True  # pass earlier outputs on where a draft forgot to
    hint: bool = True  # name the top-ranked task types to the drafting controller
    grammar_all: bool = True  # a draft may use every task type (else only those on offer)
