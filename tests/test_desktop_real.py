"""The window's main flow with the real engine on the embedded default: real
SmolLM2-135M through llama.cpp and the real installed experts. What the planner
and experts produce is still improving, so this checks what is robust: a plan
graph appears with at least one node, an answer is shown, the run is in the
history (and survives a restart of the window)."""

from __future__ import annotations

from pathlib import Path

import pytest

import llama_cpp  # noqa: E402,F401
import pytestqt  # noqa: E402,F401

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


@pytest.mark.slow
def test_showcase_in_the_window_with_the_real_engine(qtbot, settings):
    from desktop.qt_chat import AnswerMessage
    from desktop.qt_main import MainWindow

    s = settings.with_(n_threads=2)
    window = MainWindow(s)
    qtbot.addWidget(window)
    window.show()
    composer = window.chat.composer
    composer.input.setPlainText(SHOWCASE)
    composer.add_attachments([ROOT / "samples" / "chelsea.png"])
    assert len(composer.attachments) == 1
    with qtbot.waitSignal(window.run_finished, timeout=600_000):
        composer.send_button.click()
    assert not window.chat.banners(), [b.message for b in window.chat.banners()]
    assert len(window.plan.graph.items_by_id) >= 1
    [answer] = window.chat.findChildren(AnswerMessage)
    assert answer.text.strip()
    runs = window.store.runs(window.conversation_id)
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].plan
    assert runs[0].answer.strip() == answer.text.strip()
    window.close()

    again = MainWindow(s)
    qtbot.addWidget(again)
    again.show()
    assert again.conversation_id == window.conversation_id
    assert len(again.plan.graph.items_by_id) == len(runs[0].plan)
    QTest.keyClick(again, Qt.Key_N, Qt.ControlModifier)
