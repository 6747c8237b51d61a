"""The window for everyone, under pytest-qt (offscreen): real widgets, a real engine with
a scripted controller and small in-test experts doing real work (on real images and
WAV files), real SQLite history.

- every interactive widget of every view has an accessible name;
- Tab reaches every enabled control of each view, in reading order;
- an answer's completion and each task's status change raise Qt's accessibility
  announcement event (``QAccessibleAnnouncementEvent``) with the text;
- a theme switch and a text-size change reach the palette and font of every view;
- the welcome page lists exactly the task types the installed experts run;
- progress events move a plan node's bar;
- detection and segmentation results are drawn from their data and can be toggled;
  recordings show a waveform with a position slider;
- Help → Keyboard shortcuts lists every menu action with its keys.
"""

from __future__ import annotations

import json
import sys
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

import pytestqt  # noqa: F401
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QAccessible, QColor, QMouseEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractSlider, QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QScrollBar, QWidget,
)

from engine.experts import Expert, ExpertResult

from desktop_support import CHELSEA, MeanColour, Tone, Upper, open_window, send, stop_windows, task

# -- in-test experts doing real, if trivial, work ------------------------------------------------


def _bright(path):
    """The picture's bright pixels (above its mean) as a boolean mask."""
    from PIL import Image

    with Image.open(path) as img:
        grey = np.asarray(img.convert("L"), dtype=np.float32)
    return grey > grey.mean() + 20


class BrightBox(Expert):
    """Object detection: one box around the bright pixels, and the expert's own drawing."""

    model_id = "test/bright-box"
    tasks = ("object-detection",)

    def run(self, task, args, ctx):
        from PIL import Image, ImageDraw

        mask = _bright(args["image"])
        ys, xs = np.nonzero(mask)
        box = {"xmin": int(xs.min()), "ymin": int(ys.min()), "xmax": int(xs.max()), "ymax": int(ys.max())}
        with Image.open(args["image"]) as img:
            drawn = img.convert("RGB")
        ImageDraw.Draw(drawn).rectangle([box["xmin"], box["ymin"], box["xmax"], box["ymax"]], outline="red", width=3)
        out = ctx.output_path("detections", ".png")
        drawn.save(out)
        found = [{"label": "bright", "score": 0.87, "box": box}]
        return ExpertResult(text="1 objects: bright (0.87)", files=[out], data={"detections": found})


class BrightMask(Expert):
    """Image segmentation: the bright pixels as a mask PNG."""

    model_id = "test/bright-mask"
    tasks = ("image-segmentation",)

    def run(self, task, args, ctx):
        from PIL import Image

        mask = _bright(args["image"])
        out = ctx.output_path("segments", ".png")
        with Image.open(args["image"]) as img:
            img.convert("RGB").save(out)
        mask_path = ctx.output_path("segments-mask", ".png")
        Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(mask_path)
        data = {"segments": [{"label": "bright", "area": round(float(mask.mean()), 4), "mask": str(mask_path)}]}
        return ExpertResult(text="segments: bright", files=[out], data=data)


class Gated(Expert):
    """Four steps; each waits for the test to let it go, then reports its progress."""

    model_id = "test/gated"
    tasks = ("text-generation",)
    go = threading.Semaphore(0)

    def run(self, task, args, ctx):
        for step in range(1, 5):
            if not Gated.go.acquire(timeout=20):
                break
            ctx.progress(step, 4, "steps")
        return ExpertResult(text="four steps")


EXPERTS = lambda: [MeanColour(), Tone(), Upper(), BrightBox(), BrightMask(), Gated()]  # noqa: E731
INSTALLED = {"image-classification", "text-to-speech", "translation", "summarization", "object-detection",
             "image-segmentation", "text-generation"}


@pytest.fixture
def window_for(qtbot, settings):
    made = []

    def make(replies=(), **changes):
        window = open_window(qtbot, settings, replies, EXPERTS(), **changes)
        window.resize(1280, 900)
        window.show()
        activate(qtbot, window)
        made.append(window)
        return window

    yield make
    stop_windows(made)
    w = made and made[0]
    if w:
        w.appearance.set_theme("system")
        w.appearance.set_scale(100)


@pytest.fixture
def announcements(monkeypatch):
    """Every accessibility event Qt is asked to deliver, recorded, then passed on to Qt."""
    seen = []
    original = QAccessible.updateAccessibility

    def spy(event):
        seen.append((event.type(), event.message() if event.type() == QAccessible.Event.Announcement else "",
                     event.object()))
        original(event)

    monkeypatch.setattr(QAccessible, "updateAccessibility", staticmethod(spy))
    return seen


SHOWCASE = json.dumps([task(0, "image-classification", {"image": "chelsea.png"}),
                       task(1, "text-to-speech", {"text": "<resource>-0"}),
                       task(2, "object-detection", {"image": "chelsea.png"}),
                       task(3, "image-segmentation", {"image": "chelsea.png"})])


def _run_showcase(qtbot, window):
    send(qtbot, window, "What is in chelsea.png? Say it, box it and mask it.", [CHELSEA])


# -- walking the widgets ---------------------------------------------------------------------------
def _internal(w: QWidget) -> bool:
    """A part of another control (a spin box's text field, a scroll area's viewport…)."""
    parent = w.parentWidget()
    return (isinstance(parent, (QAbstractSpinBox, QComboBox)) or w.objectName().startswith("qt_")
            or (w.focusProxy() is not None and w.focusProxy() is not w))


def interactive(root: QWidget, visible_in: QWidget) -> list[QWidget]:
    """Controls a person can reach: focusable widgets, and buttons, sliders, combo boxes and
    text fields (scroll bars belong to their scroll area and take no focus)."""
    out = []
    for w in [root] + root.findChildren(QWidget):
        if _internal(w) or not w.isVisibleTo(visible_in) or isinstance(w, QScrollBar):
            continue
        if w.focusPolicy() != Qt.NoFocus or isinstance(w, (QAbstractButton, QAbstractSlider, QComboBox, QLineEdit)):
            out.append(w)
    return out


def accessible_name(w: QWidget) -> str:
    """What a screen reader reads as the control's name. On Linux, Qt reports a combo box's
    current text as its name (its label comes as a relation), so for those the name given
    with setAccessibleName counts."""
    iface = QAccessible.queryAccessibleInterface(w)
    name = iface.text(QAccessible.Text.Name) if iface is not None else ""
    return (w.accessibleName() or name) if isinstance(w, QComboBox) else name


def views(window):
    return {"conversations": window.conversations, "chat": window.chat, "plan": window.plan,
            "review": window.review, "models": window.models, "settings": window.settings_view,
            "welcome": window.welcome}


def test_every_interactive_widget_of_every_view_has_an_accessible_name(window_for, qtbot, tmp_path):
    window = window_for([SHOWCASE, "A cat, boxed and masked."])
    qtbot.waitUntil(lambda: window.welcome is not None and window.welcome.facts is not None, timeout=20_000)
    _run_showcase(qtbot, window)
    window.tabs.setCurrentIndex(0)
    window.plan.select(0)
    # the review panel, with its editors, and the Models view, loaded
    from engine import PlanDraft

    engine = window.host.get()
    plan = [task(0, "translation", {"text": "hola"}), task(1, "text-to-speech", {"text": "<resource>-0"})]
    window.review.start(PlanDraft.from_list(plan, engine.task_types, engine.registry))
    window.tabs.setCurrentWidget(window.models)
    qtbot.waitUntil(lambda: window.models.model is not None, timeout=20_000)
    window.chat.composer.add_attachments([CHELSEA])
    window.chat.show_banner("a notice", "info")
    from desktop.qt_help import ShortcutsDialog

    dialog = ShortcutsDialog(window.menuBar(), window)
    qtbot.addWidget(dialog)
    missing, checked = [], 0
    for tab in range(window.tabs.count()):
        window.tabs.setCurrentIndex(tab)
        qtbot.wait(10)
        for view_name, view in views(window).items():
            for w in interactive(view, window):
                checked += 1
                name = accessible_name(w)
                if not name or not any(c.isalpha() for c in name):
                    missing.append(f"{view_name}: {type(w).__name__} {name!r} ({w.toolTip()!r})")
    for w in interactive(window.tabs.tabBar(), window) + interactive(dialog, dialog):
        checked += 1
        if not any(c.isalpha() for c in accessible_name(w)):
            missing.append(f"{type(w).__name__} {accessible_name(w)!r}")
    assert checked > 60
    assert not missing, "\n".join(sorted(set(missing)))
    # controls whose purpose is not obvious from their name also have a description
    for w in (window.chat.composer.input, window.conversations.list, window.plan.graph, window.models.table,
              window.settings_view.controller, window.theme_box, window.scale_box):
        assert w.accessibleDescription(), accessible_name(w)
    # buttons that only show a symbol are named in words
    from desktop.qt_chat import Banner

    close = window.chat.banners()[-1].findChildren(QAbstractButton)[0]
    assert close.text() == "✕" and accessible_name(close) == "Dismiss message"
    assert isinstance(window.chat.banners()[-1], Banner)


def activate(qtbot, window) -> None:
    """Keyboard shortcuts go to the active window; ask until it is (the offscreen
    platform can take a moment after another window closed)."""
    for _ in range(10):
        window.activateWindow()
        try:
            qtbot.waitUntil(window.isActiveWindow, timeout=500)
            return
        except Exception:
            continue
    assert window.isActiveWindow()


def _tab_walk(window, start: QWidget, steps: int) -> list[QWidget]:
    window.activateWindow()
    QApplication.processEvents()
    start.setFocus(Qt.TabFocusReason)
    QApplication.processEvents()
    assert QApplication.focusWidget() is start
    seen = [QApplication.focusWidget()]
    for _ in range(steps):
        focused = QApplication.focusWidget()
        assert focused is not None, f"the focus left the window after {[accessible_name(w) for w in seen[-3:]]}"
        QTest.keyClick(focused, Qt.Key_Tab)
        seen.append(QApplication.focusWidget())
    return seen


def _tabbable(root: QWidget, window) -> list[QWidget]:
    return [w for w in interactive(root, window)
            if w.focusPolicy() & Qt.TabFocus and w.isEnabled() and w.isVisible()]


def test_tab_reaches_every_enabled_control_in_reading_order(window_for, qtbot):
    window = window_for([SHOWCASE, "A cat, boxed and masked."])
    _run_showcase(qtbot, window)
    window.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    expected = _tabbable(window.split, window) + [window.tabs.tabBar()]
    walk = _tab_walk(window, window.conversations.new_button, len(expected) + 10)
    missed = [f"{type(w).__name__} {accessible_name(w)!r}" for w in expected if w not in walk]
    assert not missed, missed
    first = {w: walk.index(w) for w in reversed(walk) if w is not None}
    chat = window.chat
    from desktop.qt_chat import AnswerMessage

    answer = chat.findChildren(AnswerMessage)[-1]
    result_controls = [w for w in _tabbable(answer, window)]
    assert result_controls
    # chats list, then the conversation's results in order, then the request box and its buttons, then the plan
    order = [window.conversations.new_button, window.conversations.list, *result_controls, chat.composer.input,
             chat.composer.attach_button, chat.composer.send_button, window.plan.graph]
    positions = [first[w] for w in order]
    assert positions == sorted(positions), [accessible_name(w) for w in order]
    # the other views: every enabled control is reached
    for view in (window.models, window.settings_view):
        window.tabs.setCurrentWidget(view)
        qtbot.waitUntil(lambda: window.models.model is not None, timeout=20_000)
        qtbot.wait(20)
        expected = _tabbable(view, window)
        walk = _tab_walk(window, window.tabs.tabBar(), len(expected) + 5)
        missed = [f"{type(w).__name__} {accessible_name(w)!r}" for w in expected if w not in walk]
        assert not missed, missed


def test_answer_and_task_status_changes_are_announced(window_for, qtbot, announcements):
    window = window_for([json.dumps([task(0, "translation", {"text": "hola"})]), "HOLA means hello."])
    send(qtbot, window, "translate hola")
    said = [(message, obj) for kind, message, obj in announcements if kind == QAccessible.Event.Announcement]
    messages = [m for m, _ in said]
    from desktop.qt_chat import AnswerMessage

    answer = window.chat.findChildren(AnswerMessage)[-1]
    done = [(m, o) for m, o in said if m.startswith("Answer:")]
    assert len(done) == 1 and "HOLA means hello." in done[0][0] and done[0][1] is answer.answer
    assert any(m.startswith("Task 0, translation with test/upper, running") for m in messages)
    assert any(m.startswith("Task 0, translation with test/upper, done") for m in messages)
    assert messages.index(next(m for m in messages if "running" in m)) < messages.index(done[0][0])
    # the plan graph says the same in its description, for a reader that asks
    assert "translation with test/upper, done" in window.plan.graph.accessibleDescription()


def test_theme_and_text_size_reach_every_view(window_for, qtbot):
    from desktop.qt_theme import COLOURS

    window = window_for([SHOWCASE, "A cat."])
    qtbot.waitUntil(lambda: window.welcome is not None and window.welcome.facts is not None, timeout=20_000)
    _run_showcase(qtbot, window)
    base = window.appearance.base_font.pointSizeF()
    for theme in ("dark", "high-contrast", "light"):
        window.appearance.set_theme(theme)
        QApplication.processEvents()  # Qt hands the new palette to the widgets through events
        assert window.theme_box.currentData() == theme and window.theme_actions[theme].isChecked()
        for name, view in views(window).items():
            for role in (QPalette.Window, QPalette.Base, QPalette.Text, QPalette.Highlight):
                assert view.palette().color(role) == QColor(COLOURS[theme][role]), (theme, name, role)
        assert QApplication.instance().styleSheet().strip().startswith("QPushButton") == (theme == "high-contrast")
    before = window.plan.graph.items_by_id[0].boundingRect().height()
    window.appearance.set_scale(150)
    QApplication.processEvents()
    assert window.scale_box.currentData() == 150
    for name, view in views(window).items():
        assert view.font().pointSizeF() == pytest.approx(base * 1.5), name
    # widgets with a relative font scale too; plan nodes grow with the text
    small = [w for w in window.chat.findChildren(QWidget) if w.property("hgpt_font_factor") == 0.9]
    assert small and all(w.font().pointSizeF() == pytest.approx(base * 1.5 * 0.9) for w in small)
    assert window.plan.graph.items_by_id[0].boundingRect().height() > before
    # keys: smaller, larger, normal
    activate(qtbot, window)
    QTest.keyClick(window, Qt.Key_0, Qt.ControlModifier)
    QApplication.processEvents()
    assert window.appearance.scale == 100 and window.chat.font().pointSizeF() == pytest.approx(base)
    QTest.keyClick(window, Qt.Key_Minus, Qt.ControlModifier)
    assert window.appearance.scale == 90
    # kept for the next start
    second = window_for()
    assert (second.appearance.theme, second.appearance.scale) == ("light", 90)


def test_system_theme_follows_the_platform_colour_scheme(window_for, qtbot):
    """The platform says its colour scheme and contrast preference changed (QStyleHints'
    own signals; the offscreen platform cannot change them itself): the window follows."""
    from desktop.qt_theme import COLOURS

    window = window_for()
    window.appearance.set_theme("system")
    hints = QApplication.styleHints()
    window_colour = lambda: window.chat.palette().color(QPalette.Window)  # noqa: E731
    try:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        qtbot.waitUntil(lambda: window_colour() == QColor(COLOURS["dark"][QPalette.Window]), timeout=2_000)
        hints.accessibility().contrastPreferenceChanged.emit(Qt.ContrastPreference.HighContrast)
        qtbot.waitUntil(lambda: window_colour() == QColor(COLOURS["high-contrast"][QPalette.Window]), timeout=2_000)
        hints.accessibility().contrastPreferenceChanged.emit(Qt.ContrastPreference.NoPreference)
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        qtbot.waitUntil(lambda: window_colour() == QColor(COLOURS["light"][QPalette.Window]), timeout=2_000)
        window.appearance.set_theme("dark")  # a chosen theme stays when the system changes
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        QApplication.processEvents()
        assert window_colour() == QColor(COLOURS["dark"][QPalette.Window])
    finally:
        hints.colorSchemeChanged.emit(hints.colorScheme())
        hints.accessibility().contrastPreferenceChanged.emit(hints.accessibility().contrastPreference())


def test_welcome_page_lists_exactly_the_installed_task_types(window_for, qtbot):
    window = window_for()
    assert window.tabs.currentWidget() is window.welcome  # the first start
    qtbot.waitUntil(lambda: window.welcome.facts is not None, timeout=20_000)
    page = window.welcome
    assert set(page.offer_buttons) == INSTALLED
    lines = page.machine_lines.text()
    assert "GB of memory" in lines and "CPU core" in lines and ("GPU" in lines)
    assert page.controller_text.text()  # the controller recommended for this memory
    # an example that needs a picture goes to the request box with the sample attached
    page.offer_buttons["image-classification"].click()
    composer = window.chat.composer
    assert window.tabs.currentIndex() == 0 and window.tabs.indexOf(page) < 0
    assert composer.input.toPlainText() == "What animal is in this picture?"
    assert composer.attachments == [str(CHELSEA)]
    # Help → Welcome brings it back, and it was shown only on the first start
    QTest.keyClick(window, Qt.Key_W, Qt.ControlModifier | Qt.ShiftModifier)
    assert window.tabs.currentWidget() is page
    second = window_for()
    assert second.welcome is None and second.tabs.count() == 3


def test_progress_events_move_a_nodes_bar(window_for, qtbot):
    window = window_for([json.dumps([task(0, "text-generation", {"text": "go"})]), "Done."])
    window.tabs.setCurrentIndex(0)
    window.chat.composer.input.setPlainText("take four steps")
    Gated.go = threading.Semaphore(0)
    graph = window.plan.graph
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.chat.composer.send_button.click()
        qtbot.waitUntil(lambda: 0 in graph.items_by_id and graph.items_by_id[0].node.status == "running",
                        timeout=10_000)
        item = graph.items_by_id[0]
        assert item.node.fraction is None
        widths = []
        for step in (1, 2, 3):
            Gated.go.release()
            qtbot.waitUntil(lambda: item.node.fraction == step / 4, timeout=5_000)
            widths.append(_bar_fill(graph, item))
            assert f"{step}/4 steps" in item.lines()[2] and " s · " in item.lines()[2]
        assert widths[0] < widths[1] < widths[2]
        assert widths[2] == pytest.approx(0.75 * item.bar_rect().width(), abs=3)
        Gated.go.release()
    assert item.node.status == "done" and item.node.progress is None


def _bar_fill(graph, item) -> int:
    """How many pixels of the node's progress bar are in the status colour (read from a render)."""
    from desktop.qt_chat import STATUS_COLOURS
    from PySide6.QtGui import QImage, QPainter

    rect = item.mapRectToScene(item.bar_rect())
    image = QImage(int(rect.width()) + 2, int(rect.height()) + 2, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    graph.scene().render(painter, source=rect.adjusted(-1, -1, 1, 1))
    painter.end()
    target = QColor(STATUS_COLOURS["running"])
    y = image.height() // 2
    return sum(1 for x in range(image.width()) if _near(image.pixelColor(x, y), target))


def _near(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 40


def test_detection_and_segmentation_are_drawn_from_their_data(window_for, qtbot):
    window = window_for([SHOWCASE, "A cat."])
    _run_showcase(qtbot, window)
    from desktop.qt_chat import AnswerMessage

    answer = window.chat.findChildren(AnswerMessage)[-1]
    detection = answer.task_widgets[2].overlay
    segmentation = answer.task_widgets[3].overlay
    assert detection is not None and segmentation is not None
    assert answer.task_widgets[0].overlay is None  # classification: nothing to draw
    # pictures carry their task's text result as accessible description
    [thumb] = [f for f in answer.task_widgets[0].files if f.kind == "image"]
    assert thumb.preview.accessibleDescription().startswith("Task 0, image-classification: a ")
    # the expert's own drawing is listed (open, show in folder) without a second big picture
    assert answer.task_widgets[2].files and all(f.preview is None for f in answer.task_widgets[2].files)
    canvas = detection.canvas
    box = canvas.overlay.boxes[0]
    assert (box.label, box.score) == ("bright", 0.87)
    assert "1 box: bright (87%)" in canvas.accessibleDescription()
    assert "1 objects: bright (0.87)" in canvas.accessibleDescription()  # the task's text result
    edge = canvas.box_rect(box)
    x, y = round(edge.left()), int(edge.center().y())
    assert _boxy(canvas, x, y)  # the box's left side is drawn in its colour
    detection.boxes.setChecked(False)  # toggled off: the photo shows there again
    assert not _boxy(canvas, x, y)
    detection.boxes.setChecked(True)
    assert _boxy(canvas, x, y)
    # one by one from the list, too
    item = detection.items.item(0)
    item.setCheckState(Qt.Unchecked)
    assert ("box", 0) in canvas.hidden and not _boxy(canvas, x, y)
    item.setCheckState(Qt.Checked)
    # hovering names the box and its score
    hovered = []
    canvas.hovered.connect(hovered.append)
    window.tabs.setCurrentIndex(0)
    window.chat.scroll.ensureWidgetVisible(canvas, 0, 0)
    centre = edge.center()
    QApplication.sendEvent(canvas, QMouseEvent(QEvent.MouseMove, centre, canvas.mapToGlobal(centre), Qt.NoButton,
                                               Qt.NoButton, Qt.NoModifier))
    assert hovered[-1] == "bright (87%)"
    # the segmentation mask is tinted over the picture, and can be turned off
    seg = segmentation.canvas
    mask = np.asarray(_bright(CHELSEA))
    ys, xs = np.nonzero(mask)
    point = QPointF(xs[len(xs) // 2] * seg.scale, ys[len(ys) // 2] * seg.scale)
    assert seg.item_at(point) == ("mask", 0)
    with_mask = seg.grab().toImage().pixelColor(point.toPoint())
    segmentation.masks.setChecked(False)
    without = seg.grab().toImage().pixelColor(point.toPoint())
    assert with_mask != without and seg.item_at(point) is None
    # the expert's own picture is one check box away
    detection.drawn.setChecked(True)
    assert canvas.show_drawn


def _boxy(canvas, x: int, y: int) -> bool:
    """The first overlay colour is within a pixel of (x, y) in a render of the canvas."""
    image = canvas.grab().toImage()
    return any(_near(image.pixelColor(x + dx, y), QColor("#e6194b")) for dx in (-1, 0, 1))


def test_saved_runs_draw_their_overlays_again(window_for, qtbot):
    window = window_for([SHOWCASE, "A cat."])
    _run_showcase(qtbot, window)
    second = window_for()
    second.conversations.list.setCurrentRow(0)
    from desktop.qt_chat import AnswerMessage

    qtbot.waitUntil(lambda: bool(second.chat.findChildren(AnswerMessage)), timeout=2_000)
    answer = second.chat.findChildren(AnswerMessage)[-1]
    assert answer.task_widgets[2].overlay is not None and answer.task_widgets[3].overlay is not None


def _wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    signal = np.where(t < seconds / 2, 0.05, 0.9) * np.sin(2 * np.pi * 440 * t)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())
    return path


def test_audio_has_a_waveform_and_plays_from_the_slider(qtbot, tmp_path):
    from desktop import qt_media

    path = _wav(tmp_path / "tone.wav")
    widget = qt_media.FileWidget(path, description="spoke 12 characters")
    qtbot.addWidget(widget)
    widget.show()
    assert widget.wave is not None and widget.seconds == pytest.approx(2.0)
    assert widget.wave.peaks[0] < 0.2 and widget.wave.peaks[-1] > 0.9  # quiet half, loud half
    assert widget.slider.maximum() == 20 and widget.time.text() == "0:00 / 0:02"
    assert widget.wave.accessibleDescription() == "spoke 12 characters"
    # a stand-in command-line player: a real child process that writes down what it was given
    player = qt_media.player()
    log = tmp_path / "played.txt"
    saved = player.command
    player.command = [sys.executable, "-c",
                      f"import sys, time; open({str(log)!r}, 'w').write(sys.argv[1]); time.sleep(30)"]
    try:
        widget.slider.setFocus()
        QTest.keyClick(widget.slider, Qt.Key_Right)  # a second a step: 1.0 s
        assert widget.position() == pytest.approx(1.0)
        widget.play_button.click()
        qtbot.waitUntil(log.exists, timeout=5_000)
        qtbot.waitUntil(lambda: log.read_text() != "", timeout=5_000)
        played = Path(log.read_text())
        with wave.open(str(played)) as w:  # the rest of the recording, from 1.0 s
            assert w.getnframes() == pytest.approx(8000, abs=2)
        qtbot.waitUntil(lambda: widget.position() > 1.0, timeout=3_000)  # the slider follows playback
        widget.play_button.click()
        assert player._proc is None and widget.play_button.text() == "▶ Play"
    finally:
        player.stop()
        player.command = saved
    # clicking the waveform plays from there too (here: asks the player)
    got = []
    widget.wave.seek.connect(got.append)
    QTest.mouseClick(widget.wave, Qt.LeftButton, pos=QPoint(widget.wave.width() // 2, 5))
    assert got and got[0] == pytest.approx(1.0, abs=0.1)
    player.stop()


def test_every_action_has_keys_or_a_menu_and_help_lists_them(window_for, qtbot):
    window = window_for()
    from desktop.qt_help import ShortcutsDialog, menu_shortcuts

    rows = menu_shortcuts(window.menuBar())
    actions = {action for action in window.findChildren(type(window.menuBar().actions()[0]))
               if action.text() and not action.isSeparator() and action.menu() is None}
    listed = {text for _, text, _ in rows}
    assert {a.text().replace("&", "").rstrip("…") for a in actions if a.parent() is window} <= listed
    keys = {text: k for k, text, _ in rows}
    assert keys["Send request"].startswith("Ctrl+Return") and keys["Stop"] == "Esc"
    assert keys["Keyboard shortcuts"].startswith("F1") and keys["New chat"] == "Ctrl+N"
    QTest.keyClick(window, Qt.Key_F1)
    dialog = window.shortcuts_dialog
    qtbot.addWidget(dialog)
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    shown = {dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert listed <= shown and "Move between tasks and show the models considered" in shown
    # the keys do what the list says
    dialog.close()
    activate(qtbot, window)
    QTest.keyClick(window, Qt.Key_2, Qt.ControlModifier)
    assert window.tabs.currentWidget() is window.models
    QTest.keyClick(window, Qt.Key_L, Qt.ControlModifier)
    assert window.tabs.currentIndex() == 0 and QApplication.focusWidget() is window.chat.composer.input


def test_plan_graph_moves_between_tasks_with_the_arrow_keys(window_for, qtbot, announcements):
    window = window_for([SHOWCASE, "A cat."])
    _run_showcase(qtbot, window)
    window.tabs.setCurrentIndex(0)
    graph = window.plan.graph
    activate(qtbot, window)
    QTest.keyClick(window, Qt.Key_P, Qt.ControlModifier)
    assert QApplication.focusWidget() is graph
    QTest.keyClick(graph, Qt.Key_Right)
    assert window.plan.selected == 0 and graph.items_by_id[0].selected
    QTest.keyClick(graph, Qt.Key_Right)
    QTest.keyClick(graph, Qt.Key_Right)
    assert window.plan.selected == 2 and "[2] object-detection" in window.plan.details.title.text()
    QTest.keyClick(graph, Qt.Key_End)
    assert window.plan.selected == 3
    QTest.keyClick(graph, Qt.Key_Home)
    assert window.plan.selected == 0
    assert announcements[-1][1].startswith("Task 0, image-classification with test/mean-colour, done")
