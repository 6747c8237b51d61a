"""Triage with the project's real cue words: which follow-ups point back at the chat."""

from __future__ import annotations

import pytest

from engine.plan.triage import Triager, shared_words
from engine.tasks import TASK_TYPES

KITCHEN = "It shows a kitchen counter with a kettle, a cutting board and a bowl of lemons."
EARLIER = {"kitchen.jpg": "image"}


@pytest.fixture(scope="module")
def triager():
    return Triager(list(TASK_TYPES.values()))


def test_a_follow_up_naming_what_the_answer_showed_works_on_the_earlier_picture(triager):
    verdict = triager.triage("can you draw boxes around everything on the counter?", {}, EARLIER, KITCHEN)
    assert not verdict.direct and verdict.asked == ["object-detection"]


@pytest.mark.parametrize("request_", ["how many continents are there?", "can you draw boxes around every planet?"])
def test_a_question_about_something_else_is_answered_directly(triager, request_):
    assert triager.triage(request_, {}, EARLIER, KITCHEN).direct


def test_shared_words_ignore_common_ones():
    assert shared_words("what about the lemons there?", KITCHEN) == {"lemons"}
    assert shared_words("could you tell me more", "It shows a dog. Tell me more?") == set()
    assert shared_words("the counter", "") == set()


@pytest.mark.parametrize("request_", ["What sorts of things can you do? Could you make videos, say?",
                                      "are you able to turn text into speech?", "what can you help with"])
def test_a_question_about_what_hgpt_can_do_is_answered_directly(triager, request_):
    verdict = triager.triage(request_, {})
    assert verdict.direct and verdict.why == "a question about what hgpt can do"


def test_an_order_put_as_a_question_is_still_an_order(triager):
    assert not triager.triage("Can you draw me a cat in a hat?", {}).direct
    assert not triager.triage("Are you able to translate 'good morning' into Greek?", {}).direct


@pytest.mark.parametrize("request_", ["any tips for getting less hiss when I record my voice with a cheap headset?",
                                      "some advice on recording a podcast in a small flat?"])
def test_a_request_for_advice_is_answered_directly(triager, request_):
    assert triager.triage(request_, {}).direct


def test_making_a_podcast_is_speech_but_recording_one_is_not(triager):
    assert "text-to-speech" in triager.triage(
        "make a short podcast out of this: 'Bees dance to tell each other where flowers are.'", {}).asked
    assert "text-to-speech" not in [t.name for t in triager.keyword_tasks("tips for recording a podcast at home")]


@pytest.mark.parametrize("request_", ["can you recommend a movie for tonight", "suggest some songs for a road trip",
                                      "summarize the plot of hamlet", "what is a gif?", "how do i make a gif?"])
def test_advice_about_media_and_a_summary_of_nothing_brought_are_answered_directly(triager, request_):
    assert triager.triage(request_, {}).direct


@pytest.mark.parametrize("request_, asked", [
    ("recommend some music and make a short video about jazz", "text-to-video"),
    ('summarize this: "The council met on Monday and voted to fund the new park next year."', "summarization"),
    ("translate hola into english", "translation"),
    ("make a gif of a dancing banana", "text-to-video"),
    ("can you say good night out loud", "text-to-speech"),
    ("can you draw a cat?", "text-to-image"),
])
def test_an_order_that_brings_its_input_is_still_planned(triager, request_, asked):
    verdict = triager.triage(request_, {})
    assert not verdict.direct and asked in verdict.asked


@pytest.mark.parametrize("request_", ["make it night", "nice! now make one in the daytime with sailboats",
                                      "great, make another one but with a wolf"])
def test_an_order_to_change_what_was_made_changes_it(triager, request_):
    verdict = triager.triage(request_, {}, {"out_0.png": "image"}, "Here's a castle on a hill.")
    assert not verdict.direct and verdict.why == "it asks to change what it points back at"


@pytest.mark.parametrize("request_", ["could you show me a picture of a lighthouse in a storm",
                                      "show me what a pangolin looks like", "can i see a photo of a snowy owl?"])
def test_asking_to_be_shown_a_picture_makes_one(triager, request_):
    verdict = triager.triage(request_, {})
    assert not verdict.direct and "text-to-image" in verdict.asked


@pytest.mark.parametrize("request_", ["can you show me how to tie a tie?", "show me what you can do"])
def test_asking_to_be_shown_how_is_answered_directly(triager, request_):
    assert triager.triage(request_, {}).direct


@pytest.mark.parametrize("request_", ["can you generate a fluffy samoyed wearing a tiny crown",
                                      "create two robots playing chess on the moon", "render an old lighthouse in fog",
                                      "make me a birthday card with a unicorn on it"])
def test_a_thing_made_from_nothing_brought_is_a_picture(triager, request_):
    verdict = triager.triage(request_, {})
    assert not verdict.direct and verdict.asked == ["text-to-image"]


@pytest.mark.parametrize("request_", ["can you create a weekly meal plan for me",
                                      "could you create a packing list for a ski trip",
                                      "generate a piece of writing about hope",
                                      "make me a shopping list with eggs and milk on it"])
def test_a_text_made_from_nothing_brought_is_answered_directly(triager, request_):
    assert triager.triage(request_, {}).direct


def test_two_quoted_texts_asked_whether_they_mean_the_same_are_compared(triager):
    verdict = triager.triage('do "see you soon" and "talk to you later" mean the same thing?', {})
    assert not verdict.direct and verdict.asked == ["sentence-similarity"]
