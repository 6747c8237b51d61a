"""Real text experts: spaCy's small English pipeline finds people and places;
MiniLM embeddings score similarity and classify into named labels."""

from __future__ import annotations

import pytest

from _experts import loaded
from engine.errors import ExpertError
from engine.experts.base import ExpertContext

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ner():
    from engine.experts.spacy_ner import SpacyEnSm

    return loaded(SpacyEnSm)


@pytest.fixture(scope="module")
def minilm():
    from engine.experts.minilm import MiniLMExpert

    return loaded(MiniLMExpert)


@pytest.fixture
def ctx(tmp_path):
    return ExpertContext(tmp_path / "run", task_id=0)


def test_spacy_finds_a_person_and_a_place(ner, ctx):
    result = ner("token-classification", {"text": "Barack Obama was born in Hawaii."}, ctx)
    assert result.text == "Barack Obama (person), Hawaii (place)"
    labels = {e["label"] for e in result.data["entities"]}
    assert {"PERSON", "GPE"} <= labels
    first = result.data["entities"][0]
    assert (first["start"], first["end"]) == (0, 12)


def test_spacy_tags_parts_of_speech(ner, ctx):
    result = ner("token-classification", {"text": "She reads old books."}, ctx)
    pos = {t["text"]: t["pos"] for t in result.data["tokens"]}
    assert (pos["She"], pos["reads"], pos["books"]) == ("PRON", "VERB", "NOUN")
    assert result.text == "(no named entities found)"


def test_spacy_refuses_empty_text(ner, ctx):
    with pytest.raises(ExpertError, match="no text"):
        ner("token-classification", {"text": "  "}, ctx)


def test_paraphrases_are_more_similar_than_unrelated_text(minilm, ctx):
    def score(a, b):
        result = minilm("sentence-similarity", {"text": a, "text2": b}, ctx)
        assert result.text == f"{result.data['cosine']:.2f}"
        return result.data["cosine"]

    close = score("A man is playing a guitar.", "Someone plays the guitar.")
    far = score("A man is playing a guitar.", "The stock market fell sharply today.")
    assert close > 0.6 > 0.2 > far


@pytest.mark.parametrize("text, labels, expected", [
    ("The team won the match in the final minute.", "sports, politics, cooking", "sports"),
    ("Parliament passed the new budget law.", "sports, politics, cooking", "politics"),
    ("Whisk the eggs and fold in the flour.", "sports,politics,cooking", "cooking"),
    ("This was the worst meal I have ever had.", None, "negative"),
    ("I loved this movie, it was wonderful!", "", "positive"),
])
def test_zero_shot_picks_the_right_label(minilm, ctx, text, labels, expected):
    args = {"text": text} if labels is None else {"text": text, "labels": labels}
    result = minilm("zero-shot-classification", args, ctx)
    ranked = result.data["labels"]
    assert ranked[0]["label"] == expected and result.text.startswith(expected + " (")
    assert abs(sum(r["score"] for r in ranked) - 1) < 1e-3


def test_minilm_experts_share_the_engine_encoder(minilm):
    import numpy as np

    from engine.embeddings import embed

    a, b = minilm.embed(["hello there"])[0], embed(["hello there"])[0]
    assert a.shape == (384,) and np.allclose(a, b) and abs(np.linalg.norm(a) - 1) < 1e-4


def test_similarity_needs_both_texts(minilm, ctx):
    with pytest.raises(ExpertError, match="text2"):
        minilm("sentence-similarity", {"text": "only one"}, ctx)
