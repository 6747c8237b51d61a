"""The answer and the controller's own text tasks follow what the user asked: a text the
request asks to see is given as it is; the controller translating knows the language the
request names, and a cached result is kept apart per request."""

from __future__ import annotations

import pytest

from engine import events as ev
from engine.answer import answer_messages, verbatim
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.experts.controller_text import ControllerText, framed
from engine.experts.base import ExpertContext
from engine.results_cache import ResultsCache
from engine.session import Engine
from engine.testing import ScriptedController, scripted_planner

OCR = {"id": 0, "task": "image-to-text", "model_id": "RapidAI/RapidOCR", "status": "done",
       "text": "Region-based segmentation\nLet us first find markers.", "files": [], "args": {"image": "page.png"}}


def test_a_text_asked_for_as_it_is_is_the_answer():
    assert verbatim("Read the text in this scan", [OCR]) == (
        "The text I read from page.png:\n\nRegion-based segmentation\nLet us first find markers.")
    heard = dict(OCR, task="automatic-speech-recognition", args={"audio": "memo.wav"}, text="call me back")
    assert verbatim("transcribe this please", [heard]) == "What memo.wav says:\n\ncall me back"
    # a question, a caption, a failed step, or a later step: the controller words the answer
    assert verbatim("What does the sign say?", [OCR]) == ""
    assert verbatim("Describe this picture", [OCR]) == ""
    assert verbatim("Read the text in this scan", [dict(OCR, status="failed")]) == ""
    assert verbatim("Read the text and summarise it", [OCR, dict(OCR, id=1, task="summarization")]) == ""
    # the same reading of each file brought: every text, under its own file's name
    other = dict(heard, id=1, args={"audio": "memo2.wav"}, text="see you at noon")
    assert verbatim("transcribe both recordings", [heard, other]) == (
        "What memo.wav says:\n\ncall me back\n\nWhat memo2.wav says:\n\nsee you at noon")


def test_each_result_line_names_its_input():
    messages = answer_messages("and this one?", [dict(OCR, task="image-classification", text="espresso (90%)",
                                                      args={"image": "coffee.jpg"})])
    assert '- image-classification with RapidAI/RapidOCR on coffee.jpg gave: "espresso (90%)"' in messages[-1]["content"]


def test_a_step_s_input_in_the_results_is_cut_between_words():
    said = dict(OCR, task="translation", model_id="controller", text="Buenos días a todos.",
                args={"text": "translate and read this aloud in Spanish: 'good morning everyone, thanks for coming'"})
    failed = dict(OCR, id=1, task="image-classification", status="failed", text="", error="the image is unreadable",
                  args={"image": "cat.png"})
    log = answer_messages("translate it, and what is in cat.png?", [said, failed])[-1]["content"]
    # "… 'good morning eve…" read as another word, and Qwen2.5-Coder-1.5B said the step had failed
    assert ("- translation with controller on \"translate and read this aloud in Spanish: 'good morning…\" "
            'gave: "Buenos días a todos."') in log
    assert "- image-classification with RapidAI/RapidOCR on cat.png failed: the image is unreadable" in log


def test_the_controller_s_text_task_sees_the_request_and_one_paragraph():
    assert framed("Guten Morgen", "Guten Morgen") == "Guten Morgen"  # the request is the text: nothing to add
    text = framed("Line one of a page\nline two.\n\nA new paragraph.", "now translate that into French",
                  "Translate this text accordingly:")
    assert text == ('The user asked: "now translate that into French"\nTranslate this text accordingly:\n\n'
                    "Line one of a page line two.\n\nA new paragraph.")


def test_a_summary_is_asked_of_the_text_with_the_request_after_it():
    # with the request first, a small controller summarized the request ("The user asked to summarize…")
    asked = framed("the meeting moved to Friday at 10.\nBring the slides.", "Summarize the transcript of this call",
                   "The text to summarize:", text_first=True)
    assert asked == ("The text to summarize:\n\nthe meeting moved to Friday at 10. Bring the slides.\n\n"
                     '(What the user asked, for the length and focus only: "Summarize the transcript of this call")')
    assert framed("Bring the slides.", "Bring the slides.", text_first=True) == "Bring the slides."


def test_the_day_and_month_names_are_named_in_the_language_asked_for():
    """A small controller translated "moved to Thursday" into "mercredi": the translation is asked
    with the right words named (scripts/bench_calendar_words.py measures what it does)."""
    from engine.experts.calendar_words import note
    from engine.experts.controller_text import translation_ask

    assert translation_ask("Hi, the meeting moved to Thursday, May 3. You may bring a friend.",
                           "transcribe this and translate it to french") == (
        'The user asked: "transcribe this and translate it to french"\n'
        'Translate this text accordingly (Thursday is "jeudi", May is "mai" in French):\n\n'
        "Hi, the meeting moved to Thursday, May 3. You may bring a friend.")
    assert note("You may bring a friend on Sunday.", "in Spanish please") == 'Sunday is "domingo" in Spanish'
    assert note("See you on Thursday", "translate this into Korean") == ""  # no names for that language
    assert note("Good morning", "translate this into German") == ""
    assert note("Thursday and thursday again", "into Portuguese") == 'Thursday is "quinta-feira" in Portuguese'
    # the language translated into, not the one the text is in
    assert note("See you on Monday", "my German friend sent this, translate it into Spanish") == 'Monday is "lunes" in Spanish'
    assert note("See you on Monday", "translate this French email into Japanese") == ""
    # a language the text is said to be written in is not the one asked for: with none asked, English
    assert note("À lundi", "got this note, it's all in french, what does it say?") == ""
    assert translation_ask("À lundi", "got this note, it's all in french, what does it say?") == (
        'The user asked: "got this note, it\'s all in french, what does it say?"\n'
        "Translate this text into English:\n\nÀ lundi")


class Recorder(ScriptedController):
    """Scripted for planning and the answer; the translation expert's call is recorded."""

    seen: list = []

    def complete(self, messages, **kwargs):
        if messages and "You translate texts" in messages[0]["content"]:
            self.seen = messages
            return "Bonjour"
        return super().complete(messages, **kwargs)


def test_the_run_hands_the_request_to_the_controller_s_translation(settings):
    plan = '[{"task": "translation", "id": 0, "args": {"text": "Good morning"}}]'
    llm = Recorder([plan, "It is Bonjour."])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([ControllerText()]),
                    planner=scripted_planner(llm))
    events = list(engine.run("please put 'Good morning' into French"))
    assert any(isinstance(e, ev.TaskFinished) and e.text == "Bonjour" for e in events)
    assert "please put 'Good morning' into French" in llm.seen[-1]["content"]


def test_the_controller_s_cached_result_is_kept_apart_per_request(tmp_path):
    cache = ResultsCache(tmp_path / "results", 64)
    expert, controller = ControllerText(), ScriptedController([])
    french = cache.key("translation", expert, {"text": "Good morning"}, controller, "… into French")
    german = cache.key("translation", expert, {"text": "Good morning"}, controller, "… into German")
    assert french != german  # its prompts are code: provenance.expert_code keys them (the test below)


def test_a_cached_result_is_not_served_after_the_expert_s_code_changes(tmp_path, monkeypatch):
    import hashlib
    import sys
    from pathlib import Path

    from engine import provenance as prov

    cache = ResultsCache(tmp_path / "results", 64)
    expert, controller = ControllerText(), ScriptedController([])
    from engine import __version__

    folder = Path(sys.modules[type(expert).__module__].__file__).parent  # engine/experts: workers and helpers too
    digest = hashlib.sha256(__version__.encode())
    for file in sorted(folder.rglob("*.py")):
        digest.update(b"\0" + file.relative_to(folder).as_posix().encode() + b"\0" + file.read_bytes())
    assert prov.expert_code(expert) == digest.hexdigest()
    before = cache.key("translation", expert, {"text": "Good morning"}, controller, "… into French")
    monkeypatch.setattr(prov, "expert_code", lambda e: "the code after an upgrade")
    assert cache.key("translation", expert, {"text": "Good morning"}, controller, "… into French") != before


def test_a_change_to_a_helper_beside_the_expert_changes_its_code_digest(tmp_path, monkeypatch):
    """A worker or helper module shapes results as much as the expert's own file (the face
    worker says where each face is): every source file of the package counts."""
    from engine import provenance as prov

    (tmp_path / "expert.py").write_text("class Faces: ...\n")
    (tmp_path / "_worker.py").write_text("WHERE = 'thirds'\n")
    before = prov._source_digest(str(tmp_path))
    (tmp_path / "_worker.py").write_text("WHERE = 'pixels'\n")
    prov._source_digest.cache_clear()
    assert prov._source_digest(str(tmp_path)) != before
    assert prov._source_digest(str(tmp_path / "nothing here")) == prov._source_digest("")
    # a frozen bundle: the version is all that tells one build's code from another's
    empty, now = prov._source_digest(""), prov._source_digest(str(tmp_path))
    monkeypatch.setattr("engine.__version__", "9.9.9")
    prov._source_digest.cache_clear()
    assert prov._source_digest("") != empty and prov._source_digest(str(tmp_path)) != now
    # ... and a bundle's build stamp (installers/bundle.py), when the version stays
    stamp = tmp_path / "BUILD"
    monkeypatch.setattr(prov, "BUILD_STAMP", stamp)
    stamp.write_text("build one\n")
    prov._source_digest.cache_clear()
    first = prov._source_digest("")
    stamp.write_text("build two\n")
    prov._source_digest.cache_clear()
    assert prov._source_digest("") != first and prov.build() == "9.9.9 build two"
    assert prov.environment_provenance()["build"] == "build two"  # a run record says which build ran it
    prov._source_digest.cache_clear()


def test_an_expert_gets_the_request_in_its_context(settings):
    seen = []

    class Looks(Expert):
        model_id, tasks = "test/looks", ("summarization",)

        def run(self, task, args, ctx: ExpertContext):
            seen.append(ctx.request)
            return ExpertResult(text="short")

    plan = '[{"task": "summarization", "id": 0, "args": {"text": "a long text"}}]'
    llm = ScriptedController([plan, "ok"])
    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Looks()]), planner=scripted_planner(llm))
    list(engine.run("sum up 'a long text' in five words"))
    assert seen == ["sum up 'a long text' in five words"]


def test_the_controller_answers_a_question_from_a_passage(tmp_path):
    class Reads(ScriptedController):
        def complete(self, messages, **kwargs):
            self.seen = messages
            return "the coins and the background"

    llm = Reads([])
    result = ControllerText().run("question-answering", {"text": "what are the markers of?",
                                                         "context": "Let us first determine markers\nof the coins."},
                                  ExpertContext(tmp_path, controller=llm, request="and what are the markers of?"))
    assert result.text == "the coins and the background"
    assert llm.seen[-1]["content"] == ("Passage:\nLet us first determine markers of the coins.\n\n"
                                       "Question: what are the markers of?")
    assert "question-answering" in ControllerText.tasks


def test_a_run_starts_with_the_user_s_own_attachments_not_the_chat_log_s(settings, tmp_path):
    earlier = tmp_path / "note.txt"
    earlier.write_text("The meeting moved to Friday.")
    mine = tmp_path / "mine.txt"
    mine.write_text("Bring the contract.")
    plan = '[{"task": "summarization", "id": 0, "args": {"text": "mine.txt"}}]'
    llm = ScriptedController([plan, "ok"])

    class Sums(Expert):
        model_id, tasks = "test/sums", ("summarization",)

        def run(self, task, args, ctx: ExpertContext):
            return ExpertResult(text="short")

    engine = Engine(settings, controller=llm, registry=ExpertRegistry([Sums()]), planner=scripted_planner(llm))
    history = [{"role": "user", "content": "what does this say?", "files": [str(earlier)]},
               {"role": "assistant", "content": "The meeting moved to Friday."}]
    events = list(engine.run("and sum this one up", [str(mine)], history=history, keep=False))
    started = next(e for e in events if isinstance(e, ev.RunStarted))
    assert started.attachments == ["mine.txt"]


def test_when_nothing_read_the_users_file_the_answer_says_so_and_invents_nothing():
    from engine.answer import direct_answer

    class Inventor:
        def stream(self, messages, **kw):
            yield "The image does not contain any text."

    failed = [{"id": 0, "task": "image-to-text", "model_id": "Salesforce/blip-image-captioning-base",
               "args": {"image": "coffee.png"}, "status": "failed", "error": "no installed model can do this"}]
    answer = "".join(direct_answer(Inventor(), "what's in this photo?", failed))
    assert answer == ("I could not answer this: image-to-text of coffee.png failed (no installed model can do "
                      "this), so I have not seen what it holds.")
    # a step on text alone failed: the controller answers it itself ("translate 'good night'")
    text_only = [{"id": 0, "task": "translation", "model_id": "Helsinki-NLP/opus-mt-en-de",
                  "args": {"text": "good night"}, "status": "failed", "error": "the model is not installed"}]
    assert "".join(direct_answer(Inventor(), "translate 'good night' into German", text_only)) == \
        "The image does not contain any text."
    # one step worked: the controller answers from it
    done = [dict(failed[0], status="done", text="a cup of coffee"), dict(failed[0], id=1)]
    assert "".join(direct_answer(Inventor(), "what's in this photo?", done)) == "The image does not contain any text."


def test_when_a_question_asked_of_a_photo_failed_the_answer_says_so_and_gives_what_worked():
    from engine.answer import direct_answer

    class Inventor:
        def stream(self, messages, **kw):
            yield "No one in the photo is smiling."

    caption = {"id": 0, "task": "image-to-text", "model_id": "Salesforce/blip-image-captioning-base",
               "args": {"image": "party.jpg"}, "status": "done", "text": "a group of people at a table"}
    asked = {"id": 1, "task": "visual-question-answering", "model_id": "dandelin/vilt-b32-finetuned-vqa",
             "args": {"image": "party.jpg", "text": "is anyone smiling?"}, "status": "failed",
             "error": "the model is not installed"}
    answer = "".join(direct_answer(Inventor(), "describe this photo and tell me if anyone is smiling", [caption, asked]))
    assert answer == ("I could not answer \u201cis anyone smiling?\u201d: visual-question-answering of party.jpg "
                      "failed (the model is not installed). What did work: image-to-text gave "
                      "\u201ca group of people at a table\u201d.")
    # the question answered: the controller writes the answer
    answered = dict(asked, status="done", text="yes")
    assert "".join(direct_answer(Inventor(), "is anyone smiling?", [caption, answered])) == \
        "No one in the photo is smiling."
    # a question that is an earlier step's text (a transcript asked of a document) is not the user's own
    relayed = dict(asked, task="document-question-answering", args={"image": "form.png", "text": "<resource>-0"})
    assert "".join(direct_answer(Inventor(), "answer the spoken question from the form", [caption, relayed])) == \
        "No one in the photo is smiling."


def test_words_asked_for_follow_the_answer_when_more_was_done_with_them():
    """"transcribe this and summarize it": the answer is about the summary, and the transcript,
    which was asked for too, follows it in full; a request that did not ask for the words gets none."""
    from engine.answer import direct_answer, words_asked_for

    heard = {"id": 0, "task": "automatic-speech-recognition", "model_id": "openai/whisper-tiny.en",
             "args": {"audio": "memo.wav"}, "status": "done", "text": "The meeting moved to Thursday. Bring the budget."}
    summary = {"id": 1, "task": "summarization", "model_id": "controller", "args": {"text": "<resource>-0"},
               "status": "done", "text": "Meeting on Thursday."}
    answer = "".join(direct_answer(ScriptedController(["The meeting is on Thursday."]),
                                   "transcribe this and summarize it", [heard, summary]))
    assert answer == "The meeting is on Thursday.\n\nWhat memo.wav says:\n\nThe meeting moved to Thursday. Bring the budget."
    assert words_asked_for("summarize this recording", [heard, summary]) == ""
    page = dict(heard, task="image-to-text", args={"image": "page.png"})
    assert words_asked_for("what's written on this page? and sum it up", [page, summary]).startswith(
        "The text I read from page.png:")
    assert words_asked_for("transcribe this", [heard]) == ""  # reading was all: verbatim answers
    assert words_asked_for("transcribe it and summarize it", [dict(heard, status="failed"), summary]) == ""


def test_a_photo_described_and_read_is_answered_with_both():
    """"describe this photo and read the text on it": the reading was the last step, but it is not
    the whole answer; the controller words the description, and the reading follows in full."""
    from engine.answer import direct_answer

    shown = {"id": 0, "task": "image-classification", "model_id": "timm/tf_efficientnet_lite0.in1k", "status": "done",
             "text": "Egyptian cat (34%)", "files": [], "args": {"image": "cafe.png"}}
    sign = dict(OCR, id=1, text="CAT CAFE OPEN", args={"image": "cafe.png"})
    request = "Describe this photo and read the text on it"
    assert verbatim(request, [shown, sign]) == ""
    answer = "".join(direct_answer(ScriptedController(["It shows a cat, under a sign."]), request, [shown, sign]))
    assert answer == "It shows a cat, under a sign.\n\nThe text I read from cafe.png:\n\nCAT CAFE OPEN"


@pytest.mark.slow
def test_the_controller_s_sentiment_is_one_word_of_four_with_the_real_model(llm, tmp_path):
    """The embedded SmolLM2 wrote paragraphs about the text when asked for a label; under the
    label grammar its text classification is a sentiment word, nothing else."""
    from engine.experts.controller_text import SENTIMENTS

    ctx = ExpertContext(run_dir=tmp_path, controller=llm, request="is this review positive or negative?")
    for text in ("The battery died after two days and support never answered.", "Loved it, the staff were kind!"):
        assert ControllerText().run("text-classification", {"text": text}, ctx).text in SENTIMENTS
