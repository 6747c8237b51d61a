"""Experts serve only what they can do within a task: OCR is not offered for
"describe", a face detector not for cars; a task no installed expert can serve as
asked goes to one that can (the real MiniLM compares the request with the scopes)."""

from __future__ import annotations

import pytest

from engine import capability
from engine.embeddings import embed
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.experts.efficientnet import EfficientNetLite0
from engine.experts.mediapipe_vision import MediapipeFaces
from engine.experts.ocr import RapidOcr
from engine.plan.graph import Plan, Task
from engine.tasks import TASK_TYPES


def test_ocr_reads_text_and_is_not_offered_to_describe_a_picture():
    ocr = RapidOcr()
    assert capability.fits(ocr, "image-to-text", "Copy out the words printed on this poster.", embed)
    assert capability.fits(ocr, "image-to-text", "Translate the text on this menu into English.", embed)
    assert not capability.fits(ocr, "image-to-text", "Describe this photo in one sentence.", embed)
    assert not capability.fits(ocr, "image-to-text", "What is happening in this picture?", embed)
    # a question about the words is for the reader too, however short ("what's the first word on this page?")
    assert capability.fits(ocr, "image-to-text", "what's the first word on this page?", embed)
    assert capability.fits(ocr, "image-to-text", "what is the heading of this leaflet?", embed)
    assert not capability.fits(ocr, "image-to-text", "what animal is in this picture?", embed)


def test_a_face_detector_finds_people_not_cars():
    faces = MediapipeFaces()
    assert capability.fits(faces, "object-detection", "How many people are in this photo?", embed)
    assert not capability.fits(faces, "object-detection", "Put boxes around every car in this street photo.", embed)


def test_an_expert_without_a_scope_fits_whatever_its_task_asks():
    class Anything(Expert):
        model_id, tasks = "test/anything", ("image-to-text",)

        def run(self, task, args, ctx):
            return ExpertResult(text="x")

    assert capability.fits(Anything(), "image-to-text", "Describe this photo.", embed)


@pytest.mark.parametrize("request_", ["What is in this picture?", "what's in this picture?",
                                      "what am I looking at", "caption this image", "what kind of dog is this"])
def test_a_short_question_about_a_photo_goes_to_the_classifier_when_no_captioner_is_installed(request_):
    registry = ExpertRegistry([RapidOcr(), EfficientNetLite0()])
    plan = Plan([Task(0, "image-to-text", [-1], {"image": "cat.png"})])
    capability.adjust(plan, request_, registry, TASK_TYPES, embed)
    assert [t.task for t in plan.tasks] == ["image-classification"]


def test_the_classifier_does_not_stand_in_for_what_people_are_doing():
    registry = ExpertRegistry([RapidOcr(), EfficientNetLite0()])
    plan = Plan([Task(0, "image-to-text", [-1], {"image": "party.png"})])
    assert capability.adjust(plan, "what are the people doing?", registry, TASK_TYPES, embed) == []
    assert plan.tasks[0].task == "image-to-text"


def test_a_task_only_a_misfit_serves_goes_to_one_that_answers_the_request():
    registry = ExpertRegistry([RapidOcr(), EfficientNetLite0()])
    plan = Plan([Task(0, "image-to-text", [-1], {"image": "cat.png"})])
    notes = capability.adjust(plan, "What is in this picture?", registry, TASK_TYPES, embed)
    assert [t.task for t in plan.tasks] == ["image-classification"] and plan.tasks[0].args == {"image": "cat.png"}
    assert "can only read the printed" in notes[0]
    kept = Plan([Task(0, "image-to-text", [-1], {"image": "menu.png"})])
    assert capability.adjust(kept, "Read the text on this menu.", registry, TASK_TYPES, embed) == []
    assert kept.tasks[0].task == "image-to-text"


@pytest.fixture
def catalog(settings):
    from engine.catalog import open_catalog

    registry = ExpertRegistry([RapidOcr()])
    catalog = open_catalog(settings.catalog_path, registry)
    catalog.upsert([{"id": "Salesforce/blip-image-captioning-base", "task": "image-to-text", "downloads": 9}])
    return catalog, registry


def test_selection_never_hands_a_request_to_a_misfit_and_says_what_to_get(catalog):
    from engine.errors import NoExpertError
    from engine.select import select

    catalog, registry = catalog
    task = Task(0, "image-to-text", [-1], {"image": "holiday.png"})
    with pytest.raises(NoExpertError, match="can only read the printed.*blip-image-captioning-base") as said:
        select(task, "Describe this photo in one sentence.", registry, catalog, None, embed=embed)
    assert str(said.value).count("no installed model") == 1  # the fix follows the reason, not a second "no model"
    chosen = select(task, "Copy out the words printed on this poster.", registry, catalog, None, embed=embed)
    assert chosen.model_id == "RapidAI/RapidOCR"


def test_each_task_is_held_against_the_clause_that_asked_for_it():
    """In "read the sign, then say what the picture shows" the reading fits OCR and the other
    clause does not: held against the whole request, both tasks were one or the other."""
    registry = ExpertRegistry([RapidOcr(), EfficientNetLite0()])
    request = "Read the words on the sign in this photo, then tell me what the picture shows."

    def two_readings():
        return Plan([Task(0, "image-to-text", [-1], {"image": "street.png"}),
                     Task(1, "image-to-text", [-1], {"image": "street.png"})])

    plan = two_readings()
    clauses = {0: "Read the words on the sign in this photo", 1: "then tell me what the picture shows."}
    notes = capability.adjust(plan, request, registry, TASK_TYPES, embed, clauses)
    assert [t.task for t in plan.tasks] == ["image-to-text", "image-classification"]
    assert len(notes) == 1 and notes[0].startswith("task 1:")
    whole = two_readings()  # the whole request, as before: the sign was not read
    capability.adjust(whole, request, registry, TASK_TYPES, embed)
    assert [t.task for t in whole.tasks] == ["image-classification"] * 2


def test_selection_holds_the_expert_against_the_clause_not_the_whole_request(catalog):
    from engine.errors import NoExpertError
    from engine.select import select

    catalog, registry = catalog
    request = "Copy out the words printed on this poster, and describe this photo in one sentence."
    task = Task(1, "image-to-text", [-1], {"image": "poster.png"})
    with pytest.raises(NoExpertError, match="can only read the printed"):
        select(task, request, registry, catalog, None, embed=embed, clause="describe this photo in one sentence.")
    chosen = select(task, request, registry, catalog, None, embed=embed, clause="Copy out the words printed on this poster")
    assert chosen.model_id == "RapidAI/RapidOCR"


def test_the_likely_models_before_selection_leave_out_a_misfit(catalog):
    from engine.preflight import likely_selections

    catalog, registry = catalog
    tasks = [Task(0, "image-to-text", [-1], {"image": "poster.png"}), Task(1, "image-to-text", [-1], {"image": "poster.png"})]
    chosen, errors = likely_selections(tasks, registry, catalog, 5, None,
                                       {0: "copy out the words on this poster", 1: "describe the photo"}, embed)
    assert chosen[0].model_id == "RapidAI/RapidOCR" and 1 not in chosen
    assert "can only read the printed" in errors[1]
    chosen, errors = likely_selections(tasks, registry, catalog, 5)  # no clauses: what selection offers at all
    assert set(chosen) == {0, 1} and not errors


def test_the_plan_preview_is_the_plan_a_run_executes(settings):
    """``hgpt plan`` (and the API's preview, through ``Engine.plan_only``) shows the plan held
    to the installed experts: with only OCR and a classifier, "describe" is classification."""
    from pathlib import Path

    from engine.controller import FirstChoice
    from engine.session import Engine

    photo = Path(__file__).parents[1] / "samples" / "chelsea.png"
    engine = Engine(settings, controller=FirstChoice(), registry=ExpertRegistry([RapidOcr(), EfficientNetLite0()]))
    plan, _, trace = engine.plan_only("Describe this photo in one sentence.", [str(photo)])
    assert [t.task for t in plan.tasks] == ["image-classification"]
    assert "image-to-text became image-classification" in plan.repairs[0]
    assert trace.held == {0: "Describe this photo in one sentence"}  # the clause that asked
    kept, _, _ = engine.plan_only("Copy out the words printed on this photo.", [str(photo)])
    assert [t.task for t in kept.tasks] == ["image-to-text"] and kept.repairs == []


@pytest.mark.parametrize("request_, fits", [
    ("is this review positive or negative? 'The battery died after two days.'", True),
    ("what's the sentiment of this review", True),
    ("how does the customer feel in this message?", True),
    ("is this email spam?", False),
    ("which language is this text written in?", False),
])
def test_the_controller_sorts_a_text_by_sentiment_only(request_, fits):
    """The controller stands in for text classification where no classifier is installed, for
    sentiment alone: its scope says so, and the real MiniLM holds each request against it."""
    from engine.experts.controller_text import ControllerText

    assert capability.fits(ControllerText(), "text-classification", request_, embed) is fits
