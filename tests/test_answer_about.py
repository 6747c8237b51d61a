"""A direct answer's prompt says what this installation can do only when the request
speaks to the assistant: said to every question, the model-task list pulls plain
questions towards machine learning."""

from __future__ import annotations

from engine.answer import asks_about_me
from engine.experts import ExpertRegistry
from engine.session import Engine
from engine.testing import ScriptedController, collect, scripted_planner


def test_questions_to_the_assistant_are_told_apart_from_questions_about_the_world():
    assert asks_about_me("Which kinds of files can you work with?")
    assert asks_about_me("What is hgpt?") and asks_about_me("Tell me about yourself.")
    assert not asks_about_me("What is H2O commonly called?")
    assert not asks_about_me("How many days are in a leap year?")
    assert not asks_about_me("Which is younger, the Eiffel Tower or Big Ben?")  # a word that holds 'you'


def test_only_a_question_to_the_assistant_gets_the_installation_in_its_prompt(settings):
    controller = ScriptedController(["[]", "Water.", "[]", "Pictures and sound."])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([]),
                    planner=scripted_planner(controller))
    collect(engine.run("What is H2O commonly called?"))
    collect(engine.run("Which kinds of files can you work with?"))
    systems = [call["messages"][0]["content"] for call in controller.calls if call["stream"]]
    assert len(systems) == 2
    assert "Files you can take" not in systems[0] and "Files you can take" in systems[1]


def test_what_the_assistant_can_do_is_said_in_plain_words_from_its_experts(settings):
    """"what can you do?" is answered from what the installed experts say they do: OCR reads
    text (it does not caption), and no model task name reaches the prompt."""
    from engine.experts.ocr import RapidOcr
    from engine.experts.piper import PiperJoe

    controller = ScriptedController(["[]", "I can read text in pictures."])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([RapidOcr(), PiperJoe()]),
                    planner=scripted_planner(controller))
    collect(engine.run("hi! what can you do?"))
    system = [call["messages"][0]["content"] for call in controller.calls if call["stream"]][0]
    assert "read the printed or written text in an image" in system and "read text aloud" in system
    assert "image-to-text" not in system and "text-to-speech" not in system and "captioning" not in system


def test_the_workflow_names_the_controller_after_the_experts():
    from engine.answer import workflow_steps

    results = [{"id": 0, "task": "image-classification", "model_id": "timm/tf_efficientnet_lite0.in1k",
                "args": {"image": "chelsea.png"}, "status": "done", "text": "tiger cat", "files": []}]
    lines = workflow_steps(results, "qwen2.5-coder-1.5b-instruct-q4_k_m")
    assert lines[0].startswith("1. I ran image-classification with timm/tf_efficientnet_lite0.in1k on chelsea.png")
    assert lines[-1] == "I planned these steps and wrote this answer with qwen2.5-coder-1.5b-instruct-q4_k_m."
    assert workflow_steps([], "qwen") == []  # a direct answer has no workflow to name it in
    failed = [{"id": 0, "task": "audio-classification", "args": {"audio": "memo.wav"}, "status": "failed",
               "error": "no installed model can run audio-classification; 'hgpt catalog sync' fetches cards online."}]
    assert workflow_steps(failed)[0].endswith("fetches cards online.")  # one full stop, not two
