"""Real text experts: spaCy's small English pipeline finds people and places."""

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


@pytest.fixture
def ctx(tmp_path):
    return ExpertContext(tmp_path / "run", task_id=0)


def test_spacy_finds_a_person_and_a_place(ner, ctx):
    result = ner("token-classification", {"text": "Barack Obama was born in Hawaii."}, ctx)
    assert result.text == "Barack Obama (PERSON), Hawaii (GPE)"
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
