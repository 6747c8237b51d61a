"""Steps a plan implies: a ControlNet drawing needs the control map of its kind first, and a
request that keeps a photo's pose, outlines or depth while making something new needs the drawing;
a result asked for in a language is translated."""

from __future__ import annotations

import pytest

from engine.plan.graph import Plan, Task
from engine.plan.implied import (add_control_maps, add_guided_drawing, add_question, add_translation, ask_the_picture,
                                 ask_what_it_shows, guided_kind)
from engine.tasks import TASK_TYPES as T


def tasks(plan: Plan) -> list[tuple]:
    return [(t.id, t.task, t.args, t.dep) for t in plan.tasks]


def test_a_controlnet_task_fed_a_photo_gets_its_map_made_first():
    plan = Plan.from_list([
        {"id": 0, "task": "openpose-text-to-image", "dep": [-1], "args": {"text": "an astronaut", "image": "runner.jpg"}},
        {"id": 1, "task": "image-to-text", "dep": [0], "args": {"image": "<resource>-0"}},
    ])
    notes = add_control_maps(plan, T)
    assert tasks(plan) == [
        (0, "openpose-control", {"image": "runner.jpg"}, [-1]),
        (1, "openpose-text-to-image", {"text": "an astronaut", "image": "<resource>-0"}, [0]),
        (2, "image-to-text", {"image": "<resource>-1"}, [1]),  # the later reference follows its task
    ]
    assert notes == ["task 1 (openpose-text-to-image) draws from a control map: openpose-control makes it first"]


def test_a_map_already_made_or_brought_is_used_as_it_is():
    made = Plan.from_list([
        {"id": 0, "task": "depth-estimation", "dep": [-1], "args": {"image": "street.jpg"}},
        {"id": 1, "task": "depth-text-to-image", "dep": [0], "args": {"text": "a village", "image": "<resource>-0"}},
        {"id": 2, "task": "visual-question-answering", "dep": [0], "args": {"image": "<resource>-0", "text": "far?"}},
    ])
    brought = Plan.from_list([
        {"id": 0, "task": "canny-text-to-image", "dep": [-1], "args": {"text": "a tower", "image": "canny_edges.png"}},
    ])
    assert add_control_maps(made, T) == [] and add_control_maps(brought, T) == []
    assert [t.task for t in made.tasks] == ["depth-estimation", "depth-text-to-image", "visual-question-answering"]


def test_a_map_made_by_another_name_only_for_a_drawing_is_made_by_the_control_step():
    for maker, kind in (("depth-estimation", "depth"), ("image-segmentation", "seg")):
        plan = Plan.from_list([
            {"id": 0, "task": maker, "dep": [-1], "args": {"image": "street.jpg"}},
            {"id": 1, "task": f"{kind}-text-to-image", "dep": [0], "args": {"text": "snow", "image": "<resource>-0"}},
        ])
        notes = add_control_maps(plan, T)
        assert tasks(plan) == [(0, f"{kind}-control", {"image": "street.jpg"}, [-1]),
                               (1, f"{kind}-text-to-image", {"text": "snow", "image": "<resource>-0"}, [0])]
        assert notes == [f"task 0 ({maker}) makes the map task 1 draws from: {kind}-control makes it"]
    # a segmentation feeding a drawing of another kind is no seg map: that drawing gets its own map
    other = Plan.from_list([
        {"id": 0, "task": "image-segmentation", "dep": [-1], "args": {"image": "street.jpg"}},
        {"id": 1, "task": "depth-text-to-image", "dep": [0], "args": {"text": "snow", "image": "<resource>-0"}},
    ])
    add_control_maps(other, T)
    assert [t.task for t in other.tasks] == ["image-segmentation", "depth-control", "depth-text-to-image"]


def test_a_drawing_from_a_generated_picture_also_gets_the_map():
    plan = Plan.from_list([
        {"id": 0, "task": "text-to-image", "dep": [-1], "args": {"text": "a dancer"}},
        {"id": 1, "task": "canny-text-to-image", "dep": [0], "args": {"text": "a robot", "image": "<resource>-0"}},
    ])
    add_control_maps(plan, T)
    assert [(t.task, t.args.get("image"), t.dep) for t in plan.tasks] == [
        ("text-to-image", None, [-1]), ("canny-control", "<resource>-0", [0]),
        ("canny-text-to-image", "<resource>-1", [1])]


def test_which_map_a_request_keeps_while_it_makes_something_new():
    assert guided_kind("Keep the outlines of this house but turn it into a gingerbread house") == "canny"
    assert guided_kind("redesign this loft as a library, keeping the straight lines") == "mlsd"
    assert guided_kind("same posture as me in this photo, but make it a knight in armour") == "openpose"
    assert guided_kind("Using the depth of this canyon photo, render an alien landscape") == "depth"
    assert guided_kind("follow the soft edges of this portrait and paint a watercolour") == "hed"
    # the map alone, or keeping something that is no map, asks for no drawing
    for request in ("give me the edge map of this", "make a normal map from this rock photo",
                    "Estimate the depth of this photo", "keep the colours but make it brighter"):
        assert guided_kind(request) == "", request


def test_a_restyle_of_the_photo_becomes_the_drawing_from_its_map():
    request = "Keep the outlines of this house but turn it into a gingerbread house"
    plan = Plan.from_list([
        {"id": 0, "task": "image-to-image", "dep": [-1], "args": {"image": "house.jpg"}},
        {"id": 1, "task": "image-to-text", "dep": [0], "args": {"image": "<resource>-0"}},
    ])
    notes = add_guided_drawing(plan, request, {"house.jpg": "image"}, T) + add_control_maps(plan, T)
    assert tasks(plan) == [
        (0, "canny-control", {"image": "house.jpg"}, [-1]),
        (1, "canny-text-to-image", {"text": request, "image": "<resource>-0"}, [0]),
        (2, "image-to-text", {"image": "<resource>-1"}, [1]),
    ]
    assert notes[0] == "task 0 (image-to-image) keeps the picture's canny map: canny-text-to-image"


def test_a_map_alone_gets_the_drawing_after_it_and_a_plan_without_either_gets_both():
    request = "Using the depth of this canyon photo, render an alien landscape"
    mapped = Plan.from_list([{"id": 0, "task": "depth-estimation", "dep": [-1], "args": {"image": "canyon.jpg"}}])
    add_guided_drawing(mapped, request, {"canyon.jpg": "image"}, T)
    assert tasks(mapped) == [(0, "depth-estimation", {"image": "canyon.jpg"}, [-1]),
                             (1, "depth-text-to-image", {"text": request, "image": "<resource>-0"}, [0])]
    empty = Plan.from_list([])
    add_guided_drawing(empty, request, {"canyon.jpg": "image"}, T)
    add_control_maps(empty, T)
    assert [t.task for t in empty.tasks] == ["depth-control", "depth-text-to-image"]
    # no picture of the user's, or a drawing already planned: nothing to add
    assert add_guided_drawing(Plan.from_list([]), request, {}, T) == []


def test_a_result_asked_for_in_a_language_is_translated():
    plan = Plan.from_list([{"id": 0, "task": "image-to-text", "dep": [-1], "args": {"image": "menu.jpg"}}])
    notes = add_translation(plan, "describe this photo in Portuguese for my aunt", T)
    assert tasks(plan) == [(0, "image-to-text", {"image": "menu.jpg"}, [-1]),
                           (1, "translation", {"text": "<resource>-0"}, [0])]
    assert notes == ["the request asks for a language: translation translates the output of task 0"]
    # nothing to add: no language named, a translation already planned, or no text made
    for request, plan in [
        ("describe this photo", [{"id": 0, "task": "image-to-text", "dep": [-1], "args": {"image": "a.jpg"}}]),
        ("translate this into German", [{"id": 0, "task": "translation", "dep": [-1], "args": {"text": "hi"}}]),
        ("draw a cat in French style... in French", [{"id": 0, "task": "text-to-image", "dep": [-1],
                                                       "args": {"text": "a cat"}}]),
    ]:
        plan = Plan.from_list(plan)
        before = tasks(plan)
        assert add_translation(plan, request, T) == [] and tasks(plan) == before


def test_a_translation_goes_between_the_text_and_what_takes_it():
    # "describe the photo in Spanish, then read that out loud": the speech speaks the Spanish caption
    plan = Plan.from_list([{"id": 0, "task": "image-to-text", "dep": [-1], "args": {"image": "p.jpg"}},
                           {"id": 1, "task": "text-to-speech", "dep": [0], "args": {"text": "<resource>-0"}}])
    add_translation(plan, "Describe the photo in Spanish, then read that out loud", T)
    assert tasks(plan) == [(0, "image-to-text", {"image": "p.jpg"}, [-1]),
                           (1, "translation", {"text": "<resource>-0"}, [0]),
                           (2, "text-to-speech", {"text": "<resource>-1"}, [1])]


def test_a_question_about_what_a_recording_says_is_answered_from_its_transcript():
    transcribed = [{"id": 0, "task": "automatic-speech-recognition", "dep": [-1], "args": {"audio": "call.m4a"}}]
    plan = Plan.from_list(transcribed)
    request = "The caller gives a pickup time somewhere in this message. What time is it?"
    notes = add_question(plan, request, T)
    assert tasks(plan)[1] == (1, "question-answering", {"text": request, "context": "<resource>-0"}, [0])
    assert notes == ["the request asks a question about what is said: question-answering answers it from the transcript"]
    # nothing to add: a question about the words themselves, no question, or more than a transcript planned
    for request, steps in [("What is she saying in this message?", transcribed),
                           ("Transcribe this message for me.", transcribed),
                           ("What is this message about?", transcribed + [
                               {"id": 1, "task": "summarization", "dep": [0], "args": {"text": "<resource>-0"}}])]:
        plan = Plan.from_list(steps)
        before = tasks(plan)
        assert add_question(plan, request, T) == [] and tasks(plan) == before


def test_a_question_about_what_a_recording_says_is_answered_from_its_transcript_not_its_sound():
    classified = [{"id": 0, "task": "audio-classification", "dep": [-1], "args": {"audio": "vm.mp3"}}]
    request = "In this voicemail from the plumber, when did he say he can come round?"
    plan = Plan.from_list(classified)
    add_question(plan, request, T)
    assert tasks(plan) == [(0, "automatic-speech-recognition", {"audio": "vm.mp3"}, [-1]),
                           (1, "question-answering", {"text": request, "context": "<resource>-0"}, [0])]
    # a question about the sound, or about the words themselves, keeps the classification
    for request in ["What is making that noise in this recording?", "What bird is singing here?",
                    "What language are they speaking?"]:
        plan = Plan.from_list(classified)
        assert add_question(plan, request, T) == [] and tasks(plan)[0][1] == "audio-classification"


def test_a_question_answered_from_a_caption_of_the_one_photo_is_asked_of_the_photo():
    def captioned(question, then=()):
        return Plan.from_list([
            {"id": 0, "task": "image-to-text", "dep": [-1], "args": {"image": "snap.jpg"}},
            {"id": 1, "task": "question-answering", "dep": [0], "args": {"text": question, "context": "<resource>-0"}},
            *then])

    asked = ask_the_picture(captioned("is anyone wearing sunglasses?"), {"snap.jpg": "image"}, T)
    assert tasks(asked) == [(0, "visual-question-answering", {"image": "snap.jpg", "text": "is anyone wearing sunglasses?"},
                             [-1])]
    assert asked.repairs == ["task 1 answered a question from a caption of snap.jpg: visual-question-answering asks "
                             "the picture instead"]
    spoken = ask_the_picture(captioned("is anyone smiling?", [
        {"id": 2, "task": "text-to-speech", "dep": [1], "args": {"text": "<resource>-1"}}]), {"snap.jpg": "image"}, T)
    assert tasks(spoken)[1] == (1, "text-to-speech", {"text": "<resource>-0"}, [0])  # speaks the picture's answer
    # a question about the words on it is answered from the words read; a second file, or a caption used
    # elsewhere too, leaves the plan as it is
    words = captioned("what does the sign say about parking?")
    assert ask_the_picture(words, {"snap.jpg": "image"}, T) is words
    two = captioned("is anyone smiling?")
    assert ask_the_picture(two, {"snap.jpg": "image", "notes.txt": "text"}, T) is two
    shared = captioned("is anyone smiling?", [{"id": 2, "task": "translation", "dep": [0], "args": {"text": "<resource>-0"}}])
    assert ask_the_picture(shared, {"snap.jpg": "image"}, T) is shared


@pytest.mark.parametrize("question, asked", [
    ("what is the cat in this photo looking at?", True),
    ("what is the person holding?", True),
    ("what colour is the car on the left?", True),
    ("what animal is this?", False),  # a label of the whole picture answers it
    ("what does the sign on the left say?", False),  # the words on it: read, not asked
])
def test_a_question_about_what_the_photo_shows_in_particular_asks_the_photo(question, asked):
    plan = Plan([Task(0, "image-classification", [-1], {"image": "p.jpg"})])
    notes = ask_what_it_shows(plan, question, {"p.jpg": "image"}, T)
    expected = ([("visual-question-answering", {"image": "p.jpg", "text": question})] if asked
                else [("image-classification", {"image": "p.jpg"})])
    assert [(t.task, t.args) for t in plan.tasks] == expected and bool(notes) == asked


@pytest.mark.parametrize("text, other", [
    ("Ce restaurant était incroyable, je reviendrai sûrement!", True),
    ("La casa es muy bonita y el jardín también", True),
    ("Das Essen war kalt und der Kellner war sehr unfreundlich", True),
    ("Il treno per Roma non è in orario", True),
    ("the meeting moved to Thursday, please bring the slides", False),
    ("Le Monde is a newspaper and it is a good one", False),  # a French name in an English sentence
    ("la la la", False),
])
def test_a_text_in_another_language_is_told_by_its_small_words(text, other):
    from engine.text import in_another_language

    assert in_another_language(text) is other


def test_a_quoted_text_in_another_language_asked_what_it_means_is_translated_first():
    from engine.plan.implied import add_meaning

    request = 'what does it mean: "Je suis en retard, commencez sans moi" and is it polite?'
    plan = Plan.from_list([{"id": 0, "task": "text-classification", "dep": [-1],
                            "args": {"text": "Je suis en retard, commencez sans moi"}}])
    assert add_meaning(plan, request, T) == [
        "the request asks what a text in another language means: translation translates it"]
    assert [t.task for t in plan.tasks] == ["translation", "text-classification"]
    assert plan.tasks[0].args == {"text": "Je suis en retard, commencez sans moi"}
    for request in ('what does "break a leg" mean?',  # English
                    'is this a nice thing to say: "Je suis en retard, commencez sans moi"'):  # no meaning asked
        plan = Plan.from_list([])
        assert add_meaning(plan, request, T) == [] and plan.tasks == []
