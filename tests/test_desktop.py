"""The desktop window under pytest-qt (offscreen): real widgets, a real engine with a
scripted controller and small in-test experts doing real work, real SQLite history.
The main flow with the real embedded controller is in test_desktop_real.py."""

from __future__ import annotations

import json
import sys
import time
import wave
from pathlib import Path

import pytestqt  # noqa: F401
from desktop_support import CHELSEA, ROOT, SHOWCASE_PLAN, Sleeper, send, task
from PySide6.QtCore import QMimeData, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest


def test_request_with_attachment_streams_answer_draws_plan_and_saves_history(make_window, qtbot):
    window = make_window([SHOWCASE_PLAN, "It is a cat, probably."])
    send(qtbot, window, "What animal is in chelsea.png? Then say the answer out loud.", [CHELSEA])
    # the plan graph: two nodes, both done, with the chosen models
    nodes = window.plan.graph.items_by_id
    assert sorted(nodes) == [0, 1]
    assert {n.node.status for n in nodes.values()} == {"done"}
    assert nodes[1].node.model_id == "test/tone" and nodes[1].node.dep == [0]
    # the answer streamed in, with the results inline: an image and a playable audio file
    from desktop.qt_chat import AnswerMessage, UserMessage
    from desktop.qt_media import Thumbnail

    [answer] = window.chat.findChildren(AnswerMessage)
    assert answer.answer.text().startswith("It is a cat, probably.")
    kinds = sorted(f.kind for r in answer.task_widgets.values() for f in r.files)
    assert kinds == ["audio", "image"]
    image = next(f for r in answer.task_widgets.values() for f in r.files if f.kind == "image")
    assert image.preview.pixmap().width() == 64
    # the user's message shows the attachment's thumbnail
    user = window.chat.findChildren(UserMessage)[0]
    thumb = user.findChildren(Thumbnail)[0]
    assert thumb.picture.pixmap().width() == 96
    # the history: conversation titled by the request, run done with plan and results
    store = window.store
    conv = store.conversations()[0]
    assert conv.title.startswith("What animal is in chelsea.png?")
    run = store.runs(conv.id)[0]
    assert run.status == "done" and [t["task"] for t in run.plan] == ["image-classification", "text-to-speech"]
    assert run.results["0"]["text"].startswith("a ") and len(run.artifacts) == 2
    # clicking a node shows the candidates and the reason
    window.plan.select(1)
    assert window.plan.details.table.rowCount() == 1
    assert window.plan.details.table.item(0, 0).text() == "test/tone"
    reason = window.plan.details.reason.text()
    assert "only installed model" in reason and "Pre-flight: " in reason  # each its own sentence
    assert reason.split(" Pre-flight: ")[0].endswith(".")


def test_a_second_turn_gets_the_first_as_chat_history(make_window, qtbot):
    window = make_window([json.dumps([task(0, "translation", {"text": "hola"})]), "HOLA it is.",
                          "[]", "You asked me to translate hola."])
    send(qtbot, window, "translate hola")
    send(qtbot, window, "what did I ask?")
    planning = window.controller.calls[2]["messages"]
    assert {"role": "user", "content": "translate hola"} in planning
    assert [m.role for m in window.store.messages(window.conversation_id)] == ["user", "assistant"] * 2


def test_stop_cancels_the_run(make_window, qtbot):
    window = make_window([json.dumps([task(0, "text-generation", {"text": "a"}),
                                      task(1, "translation", {"text": "<resource>-0"})]), "x"])
    Sleeper.started.clear()
    window.chat.composer.input.setPlainText("sleep then translate")
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.chat.composer.send_button.click()
        qtbot.waitUntil(Sleeper.started.is_set, timeout=5_000)
        QTest.keyClick(window, Qt.Key_Escape)
    banners = window.chat.banners()
    assert banners and banners[-1].kind == "info" and "Stopped" in banners[-1].message
    run = window.store.runs(window.conversation_id)[0]
    assert run.status == "cancelled"
    assert window.plan.graph.items_by_id[1].node.status == "selected"  # task 1 never started
    assert window.chat.composer.send_button.isEnabled()


def test_errors_show_as_a_banner_not_a_dialog(make_window, qtbot, tmp_path):
    window = make_window(["not json at all"])
    send(qtbot, window, "do something")
    assert "failed while planning" in window.chat.banners()[-1].message
    fake = tmp_path / "notes.wav"
    fake.write_text("just text")
    send(qtbot, window, "listen", [fake])
    assert "does not look like an audio file" in window.chat.banners()[-1].message
    window.chat.composer.add_attachments([tmp_path / "report.pdf"])
    assert "unsupported file type .pdf" in window.chat.banners()[-1].message


def test_restart_shows_the_history(make_window, qtbot, settings):
    first = make_window([SHOWCASE_PLAN, "A cat."])
    send(qtbot, first, "What animal is this?", [CHELSEA])
    first.close()
    second = make_window()
    assert second.conversations.list.count() == 1
    assert second.conversation_id == first.conversation_id
    from desktop.qt_chat import AnswerMessage, UserMessage

    assert [u.text.text() for u in second.chat.findChildren(UserMessage)] == ["What animal is this?"]
    answer = second.chat.findChildren(AnswerMessage)[0]
    assert answer.answer.text() == "A cat."
    assert len(answer.task_widgets) == 2
    assert sorted(second.plan.graph.items_by_id) == [0, 1]
    assert second.plan.graph.items_by_id[0].node.status == "done"


def test_edit_the_plan_in_review(make_window, qtbot):
    plan = json.dumps([task(0, "translation", {"text": "one"}),
                       task(1, "summarization", {"text": "two"}),
                       task(2, "translation", {"text": "<resource>-1 three"})])
    window = make_window([plan, "edited run"], review_plan=True)
    window.chat.composer.input.setPlainText("three steps")
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.chat.composer.send_button.click()
        qtbot.waitUntil(lambda: window.review.isVisible() and len(window.review.editors) == 3, timeout=5_000)
        editors = window.review.editors
        assert sorted(window.plan.graph.items_by_id) == [0, 1, 2]  # the plan is drawn while reviewed
        edit = editors[0].arg_edits["text"]
        edit.selectAll()
        QTest.keyClicks(edit, "uno")  # change task 0's argument
        from PySide6.QtWidgets import QToolButton

        delete = [b for b in window.review.editors[1].findChildren(QToolButton) if b.text() == "Delete task"][0]
        delete.click()  # delete task 1: task 2 becomes 1 and loses its reference
        assert "task 1: missing argument" not in window.review.problems.text()
        assert window.review.editors[1].arg_edits["text"].text() == " three"
        window.review.editors[1].model_box.setCurrentText("test/upper")
        window.review.run_button.click()
    run = window.store.runs(window.conversation_id)[0]
    assert run.status == "done"
    assert [(t["task"], t["args"]["text"]) for t in run.plan] == [("translation", "uno"), ("translation", " three")]
    assert run.results["0"]["text"] == "UNO" and run.results["1"]["text"] == " THREE"
    assert run.selections["1"]["reason"] == "chosen by you in plan review"
    assert sorted(window.plan.graph.items_by_id) == [0, 1]


def test_review_problems_block_run_and_cancel_declines(make_window, qtbot):
    window = make_window([json.dumps([task(0, "translation", {"text": "one"})])], review_plan=True)
    window.chat.composer.input.setPlainText("one step")
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.chat.composer.send_button.click()
        qtbot.waitUntil(window.review.isVisible, timeout=5_000)
        window.review.editors[0].arg_edits["text"].clear()
        window.review.change_arg(0, "text", "")
        assert not window.review.run_button.isEnabled()
        assert "missing argument 'text'" in window.review.problems.text()
        window.review.cancel_button.click()
    assert window.store.runs(window.conversation_id)[0].status == "cancelled"


def test_the_event_loop_keeps_serving_a_timer_during_a_run(make_window, qtbot):
    window = make_window([json.dumps([task(0, "text-generation", {"text": "x"})]), "done"])
    ticks = []
    timer = QTimer(interval=50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    send(qtbot, window, "sleep a second")
    timer.stop()
    during = [t for t in ticks if t > started]
    assert time.perf_counter() - started >= 1.0
    assert len(during) >= 12  # ~20 expected at 50 ms over >= 1 s
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert max(gaps) < 0.5


def test_conversations_new_rename_search_delete(make_window, qtbot):
    window = make_window([json.dumps([task(0, "translation", {"text": "a"})]), "A.",
                          json.dumps([task(0, "translation", {"text": "b"})]), "B."])
    send(qtbot, window, "first chat about apples")
    QTest.keyClick(window, Qt.Key_N, Qt.ControlModifier)
    from desktop.qt_chat import UserMessage

    assert window.conversations.list.count() == 2
    qtbot.waitUntil(lambda: window.chat.findChildren(UserMessage) == [], timeout=2_000)  # a fresh chat
    send(qtbot, window, "second chat about bananas")
    lst = window.conversations
    lst.list.currentItem().setText("Bananas")  # what an in-place edit does
    assert window.store.conversation(window.conversation_id).title == "Bananas"
    lst.search.setText("apples")
    qtbot.waitUntil(lambda: lst.list.count() == 1, timeout=2_000)
    assert lst.list.item(0).text() == "first chat about apples"
    lst.search.clear()
    qtbot.waitUntil(lambda: lst.list.count() == 2, timeout=2_000)
    lst.list.setCurrentRow(0)
    victim = lst.current_id()
    lst.delete_button.click()
    assert lst.delete_button.text() == "Really delete?"
    lst.delete_button.click()
    assert victim not in [c.id for c in window.store.conversations()]
    assert lst.list.count() == 1


def test_paste_and_drop_attach_files(make_window, qtbot, settings):
    window = make_window()
    composer = window.chat.composer
    image = QImage(40, 30, QImage.Format_RGB32)
    image.fill(QColor("#3366cc"))
    mime = QMimeData()
    mime.setImageData(image)
    composer.input.insertFromMimeData(mime)
    assert len(composer.attachments) == 1
    pasted = Path(composer.attachments[0])
    assert pasted.parent == settings.home / "pasted" and QImage(str(pasted)).width() == 40
    drop = QMimeData()
    drop.setUrls([QUrl.fromLocalFile(str(CHELSEA))])
    composer.input.insertFromMimeData(drop)
    assert composer.attachments == [str(pasted), str(CHELSEA)]
    composer.remove_attachment(str(pasted))
    assert composer.attachments == [str(CHELSEA)]
    notes = settings.home / "notes.txt"
    notes.write_text("Budget approved; hiring resumes in January.", encoding="utf-8")
    dropped_text = QMimeData()
    dropped_text.setUrls([QUrl.fromLocalFile(str(notes))])
    composer.input.insertFromMimeData(dropped_text)
    assert composer.attachments == [str(CHELSEA), str(notes)]  # a text file is attached like a picture


def test_audio_plays_and_stops(qtbot, tmp_path):
    from desktop import qt_media

    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 8000)
    widget = qt_media.FileWidget(path)
    qtbot.addWidget(widget)
    player = qt_media.player()
    # A stand-in command-line player: a real child process that Stop must end.
    saved = player.command
    player.command = [sys.executable, "-c", "import time; time.sleep(30)"]
    try:
        widget.play_button.click()
        assert widget.play_button.text() == "■ Stop" and player.playing()
        proc = player._proc
        widget.play_button.click()
        assert proc.poll() is not None and widget.play_button.text() == "▶ Play"
    finally:
        player.command = saved
    assert player.backend in ("QtMultimedia", "system player") or player.command


def test_settings_are_saved_and_bad_values_explained(make_window, qtbot, settings, tmp_path):
    from engine.settings import load_settings

    window = make_window()
    view = window.settings_view
    view.threads.setValue(2)
    view.n_ctx.setValue(2048)
    view.review.setChecked(True)
    view.offline.setChecked(False)
    view.save_button.click()
    saved = load_settings(settings.home)
    assert (saved.n_threads, saved.n_ctx, saved.review_plan, saved.offline) == (2, 2048, True, False)
    assert window.settings.review_plan is True
    bogus = tmp_path / "model.gguf"
    bogus.write_text("not a model")
    view.controller.setText(str(bogus))
    view.save_button.click()
    assert "is not a GGUF file" in view.status.text()
    assert load_settings(settings.home).controller == ""


def test_models_view_pages_the_catalog_and_explains_pull(make_window, qtbot):
    window = make_window()
    engine = window.host.get()
    cards = [{"id": f"org/model-{i:03d}", "task": "image-classification" if i % 2 else "translation",
              "downloads": 1000 - i, "likes": i, "licence": "mit", "description": f"model number {i}"}
             for i in range(450)]
    engine.catalog.upsert(cards)
    window.tabs.setCurrentWidget(window.models)
    qtbot.waitUntil(lambda: window.models.model is not None, timeout=5_000)
    model = window.models.model
    assert model.total >= 450 and model.rowCount() == 200
    assert model.canFetchMore()
    model.fetchMore()
    assert model.rowCount() == 400
    assert model.data(model.index(0, 0)) == "org/model-000"
    window.models.search.setText("number 17")  # full-text: the words of the description
    qtbot.waitUntil(lambda: window.models.model.total == 1, timeout=2_000)
    assert model.data(model.index(0, 0)) == "org/model-017" and window.models.count_label.text() == "1 match"
    window.models.search.clear()
    window.models.task_filter.setCurrentIndex(window.models.task_filter.findData("translation"))
    qtbot.waitUntil(lambda: window.models.model.total == 226, timeout=2_000)  # 225 + test/upper
    installed = {window.models.installed.item(r, 0).text() for r in range(window.models.installed.rowCount())}
    assert {"test/tone", "test/upper"} <= installed
    assert not window.models.pull_button.isEnabled()
    assert "Offline mode is on" in window.models.pull_label.text()


def test_window_size_and_splitters_are_restored(make_window, qtbot):
    first = make_window()
    assert first.tabs.currentWidget() is first.welcome  # the first start opens the welcome page
    first.tabs.setCurrentIndex(0)
    first.resize(700, 500)  # within the offscreen screen (800x600), which geometry is clamped to
    first.split.setSizes([150, 500, 350])
    sizes = first.split.sizes()
    first.tabs.setCurrentIndex(2)
    first.close()
    second = make_window()
    assert (second.width(), second.height()) == (700, 500)
    assert second.split.sizes() == sizes
    assert second.tabs.currentIndex() == 2


def test_the_window_appears_before_heavy_libraries_load(tmp_path):
    import subprocess

    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from desktop.qt_main import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'onnxruntime') if m in sys.modules]\n"
        "assert w.isVisible() and not heavy, heavy\n"
    )
    env = {**__import__("os").environ, "HGPT_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env, timeout=60)
