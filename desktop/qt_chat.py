"""The conversation: messages, the answer streaming in, results inline, error banners,
and the composer (text, attachments by button, drag and drop, or paste).

``ChatView`` is a view: it turns engine events into widgets and says what the
user asked for through signals (``send_requested``, ``stop_requested``); the main
window owns runs and history. Colours come from the palette (light, dark or high
contrast), except the status colours, chosen to read on all three.

For screen readers: when an answer completes, its text is announced
(``qt_a11y.announce``); each picture a task made carries the task's text result as
its accessible description; and the Tab key goes through the conversation in
reading order, then the request box and its buttons.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import (
    QFileDialog, QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QScrollArea,
    QSizePolicy, QToolButton, QVBoxLayout, QWidget,
)

from engine import (
    AttachmentError, compose_answer as compose, dialog_filter, events as ev, modality_of, overlay_for,
)

from .qt_a11y import announce, describe, relative_font
from .qt_media import FileWidget, Thumbnail

STATUS_COLOURS = {"planned": "#8a8f98", "selected": "#7b61ff", "running": "#2f80ed",
                  "done": "#27ae60", "failed": "#eb5757", "skipped": "#f2994a",
                  "cancelled": "#f2994a", "interrupted": "#f2994a", "error": "#eb5757", "info": "#2f80ed"}


class WrapLabel(QLabel):
    """A word-wrapped label whose height follows its real width (a plain QLabel
    reserves the height its text needs at a guessed, narrower width)."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self.wordWrap() and self.width() > 0:
            hint.setHeight(self.heightForWidth(self.width()))
        return hint

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if self.wordWrap() and self.width() > 0:
            hint.setHeight(self.heightForWidth(self.width()))
        return hint

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.wordWrap() and event.oldSize().width() != event.size().width():
            self.updateGeometry()


def _label(text: str = "", *, selectable: bool = True, small: bool = False) -> QLabel:
    label = WrapLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
    if small:
        relative_font(label, 0.9)
        label.setForegroundRole(QPalette.PlaceholderText)
    label.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
    return label


class Bubble(QFrame):
    def __init__(self, who: str, role: QPalette.ColorRole, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(role)
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(10, 6, 10, 8)
        title = QLabel(f"<b>{who}</b>")
        self.box.addWidget(title)


class UserMessage(Bubble):
    def __init__(self, text: str, files=(), parent=None):
        super().__init__("You", QPalette.AlternateBase, parent)
        self.text = _label(text)
        self.box.addWidget(self.text)
        if files:
            row = QHBoxLayout()
            for f in files:
                row.addWidget(Thumbnail(f, side=96))
            row.addStretch(1)
            self.box.addLayout(row)


class Banner(QFrame):
    """An error or notice inside the conversation (never a blocking dialog)."""

    def __init__(self, text: str, kind: str = "error", parent=None):
        super().__init__(parent)
        self.kind, self.message = kind, text
        colour = STATUS_COLOURS.get(kind, STATUS_COLOURS["error"])
        self.setObjectName("banner")
        self.setStyleSheet(f"#banner {{ border: 1px solid {colour}; border-left: 5px solid {colour};"
                           " border-radius: 4px; }")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 4, 6)
        icon = {"error": "⚠", "info": "ℹ"}.get(kind, "•")
        self.label = _label(f"{icon}  {text}")
        row.addWidget(self.label, 1)
        close = QToolButton(text="✕", toolTip="Dismiss", autoRaise=True)
        describe(close, "Dismiss message")
        close.clicked.connect(self.dismiss)
        row.addWidget(close, 0, Qt.AlignTop)

    def dismiss(self) -> None:
        self.hide()
        self.deleteLater()


class TaskResult(QWidget):
    """One task's outcome in the answer: header line, its text, its files. A detection or
    segmentation result is drawn from its data over the original picture (``OverlayView``:
    boxes and masks to toggle, labels and scores on hover) above the expert's own files."""

    def __init__(self, task_id: int, task: str, model_id: str, status: str, seconds: float | None,
                 text: str = "", files=(), error: str = "", parent=None, *, args=None, data=None):
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 4, 0, 4)
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["planned"])
        took = f" · {seconds:.1f} s" if seconds else ""
        model = f" · {model_id}" if model_id else ""
        head = QLabel(f"<span style='color:{colour}'>●</span> <b>[{task_id}] {task}</b>{model}{took}")
        head.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box.addWidget(head)
        if text:
            box.addWidget(_label(text[:2000]))
        if error:
            box.addWidget(_label(f"{status}: {error}"))
        self.overlay = None
        shown = overlay_for(task, args or {}, data or {}, list(files)) if status == "done" else None
        if shown is not None:
            from .qt_overlay import OverlayView

            self.overlay = OverlayView(shown, f"Task {task_id}, {task}: {text}" if text else f"Task {task_id}, {task}")
            box.addWidget(self.overlay)
        described = f"Task {task_id}, {task}: {text}" if text else f"Task {task_id}, {task}"
        drawn = {shown.drawn, *(m.path for m in shown.masks)} if shown is not None else set()
        # files the overlay already draws are listed (open, show in folder) without a second picture
        self.files = [FileWidget(f, description=described, preview=str(f) not in drawn) for f in files]
        for w in self.files:
            box.addWidget(w)


class AnswerMessage(Bubble):
    """The assistant's turn: task results as they finish, then the answer streaming in."""

    def __init__(self, parent=None):
        super().__init__("hgpt", QPalette.Base, parent)
        self.status = _label("Planning…", selectable=False, small=True)
        self.results = QVBoxLayout()
        self.answer = _label("")
        self.answer.hide()
        self.details = _label("", small=True)
        self.details.hide()
        self.box.addWidget(self.status)
        self.box.addWidget(self.answer)
        self.box.addLayout(self.results)
        self.box.addWidget(self.details)
        self.text = ""
        self.task_widgets: dict[int, TaskResult] = {}

    def add_result(self, widget: TaskResult, task_id: int) -> None:
        self.task_widgets[task_id] = widget
        self.results.addWidget(widget)

    def append(self, piece: str) -> None:
        """A piece of the direct answer as it streams in."""
        self.set_answer(self.text + piece)

    def set_answer(self, direct: str, workflow=(), notes=()) -> None:
        """The direct answer, and (when known) how it was done and what went wrong."""
        self.text = direct
        self.answer.setText(direct.strip())
        self.answer.setVisible(bool(direct.strip()))
        details = compose("", workflow, notes)
        self.details.setText(details)
        self.details.setVisible(bool(details))

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))


def stage_status(stage: str) -> str:
    """The status line while a stage runs ("Choosing models…")."""
    if stage == "review":
        return "Waiting for you to review the plan…"
    return ev.stage_words(stage).doing.capitalize() + "…"


class ChatInput(QPlainTextEdit):
    """The request box; pasted or dropped images and files become attachments."""

    files_dropped = Signal(list)

    def __init__(self, paste_dir_fn, parent=None):
        super().__init__(parent)
        self._paste_dir = paste_dir_fn
        self.setPlaceholderText("Ask something… attach images or audio with the button, by dropping "
                                "or pasting them. Ctrl+Enter sends.")
        self.setTabChangesFocus(True)
        describe(self, "Request", "What you want done, in plain words. Ctrl+Enter sends, Ctrl+O attaches "
                 "a file, Esc stops a run.")

    def canInsertFromMimeData(self, source) -> bool:
        return source.hasImage() or source.hasUrls() or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source) -> None:
        files = local_files(source)
        if files:
            self.files_dropped.emit(files)
        elif source.hasImage():
            path = save_pasted_image(source.imageData(), self._paste_dir())
            if path:
                self.files_dropped.emit([str(path)])
        else:
            super().insertFromMimeData(source)


def local_files(mime) -> list[str]:
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


def save_pasted_image(image, folder: Path) -> Path | None:
    """A clipboard image saved as PNG in the data folder (``pasted/``)."""
    image = QImage(image) if not isinstance(image, QImage) else image
    if image.isNull():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / time.strftime("pasted-%Y%m%d-%H%M%S.png")
    n = 1
    while path.exists():
        n += 1
        path = folder / time.strftime(f"pasted-%Y%m%d-%H%M%S-{n}.png")
    return path if image.save(str(path), "PNG") else None


class Composer(QWidget):
    send_requested = Signal(str, list)
    stop_requested = Signal()
    rejected = Signal(str)

    def __init__(self, paste_dir_fn, parent=None):
        super().__init__(parent)
        self.attachments: list[str] = []
        self.input = ChatInput(paste_dir_fn)
        self.input.setMaximumHeight(84)
        self.input.files_dropped.connect(self.add_attachments)
        self.chips = QHBoxLayout()
        self.chips.setContentsMargins(0, 0, 0, 0)
        self.chips.addStretch(1)
        self.attach_button = QPushButton("Attach…", toolTip="Attach images or audio (Ctrl+O)")
        self.attach_button.clicked.connect(self.choose_attachments)
        self.stop_button = QPushButton("Stop", toolTip="Stop the run (Esc)", enabled=False)
        self.stop_button.clicked.connect(self.stop_requested)
        self.send_button = QPushButton("Send", toolTip="Send (Ctrl+Enter)", default=True)
        self.send_button.clicked.connect(self.send)
        buttons = QHBoxLayout()
        buttons.addWidget(self.attach_button)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.send_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.chips)
        box.addWidget(self.input)
        box.addLayout(buttons)

    def choose_attachments(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Attach files", "", dialog_filter())
        self.add_attachments(files)

    def add_attachments(self, files) -> None:
        for f in map(str, files):
            try:
                modality_of(Path(f))
            except AttachmentError as exc:
                self.rejected.emit(str(exc))
                continue
            if f not in self.attachments:
                self.attachments.append(f)
                chip = Thumbnail(f, removable=True, side=56)
                describe(chip, f"Attachment {Path(f).name}")
                chip.removed.connect(self.remove_attachment)
                self.chips.insertWidget(self.chips.count() - 1, chip)

    def remove_attachment(self, path: str) -> None:
        self.attachments = [a for a in self.attachments if a != path]
        for i in reversed(range(self.chips.count())):
            w = self.chips.itemAt(i).widget()
            if isinstance(w, Thumbnail) and str(w.path) == path:
                self.chips.removeWidget(w)
                w.hide()
                w.deleteLater()

    def clear(self) -> None:
        self.input.clear()
        for a in list(self.attachments):
            self.remove_attachment(a)

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if text and self.send_button.isEnabled():
            self.send_requested.emit(text, list(self.attachments))

    def set_running(self, running: bool) -> None:
        self.send_button.setEnabled(not running)
        self.stop_button.setEnabled(running)


class ChatView(QWidget):
    def __init__(self, paste_dir_fn, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.messages = QVBoxLayout()
        self.messages.setSpacing(8)
        self.messages.addStretch(1)
        inner = QWidget()
        inner.setLayout(self.messages)
        self.scroll = QScrollArea(widgetResizable=True)
        self.scroll.setWidget(inner)
        self.scroll.setFrameShape(QFrame.NoFrame)
        describe(self.scroll, "Conversation", "the messages of this chat; Tab moves through their "
                 "texts and files, the arrow keys scroll")
        self.scroll.verticalScrollBar().rangeChanged.connect(self._follow)
        self.scroll.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.composer = Composer(paste_dir_fn)
        self.composer.rejected.connect(lambda m: self.show_banner(m))
        box = QVBoxLayout(self)
        box.addWidget(self.scroll, 1)
        box.addWidget(self.composer)
        self.current: AnswerMessage | None = None
        self._stick = True
        self._args: dict[int, dict] = {}  # task id -> its arguments, from TaskStarted (for overlays)
        self._order = QTimer(self, singleShot=True, interval=0)
        self._order.timeout.connect(self.order_tabs)

    # -- drag and drop onto the whole conversation ----------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = local_files(event.mimeData())
        if files:
            self.composer.add_attachments(files)
            event.acceptProposedAction()

    # -- building the conversation ----------------------------------------------------
    def _add(self, widget: QWidget) -> QWidget:
        self.messages.insertWidget(self.messages.count() - 1, widget)
        self._stick = True
        self._order.start()
        return widget

    def order_tabs(self) -> None:
        """Tab goes through the messages in reading order, then the request box and its
        buttons (widgets added later would otherwise come last in the window's chain)."""
        chain = [self.scroll]
        for i in range(self.messages.count()):
            message = self.messages.itemAt(i).widget()
            if message is not None:
                chain += [w for w in message.findChildren(QWidget)
                          if w.focusPolicy() & Qt.TabFocus and not w.isHidden() and w.window() is self.window()]
        chain += [self.composer.input, self.composer.attach_button, self.composer.stop_button,
                  self.composer.send_button]
        chain += [w for w in self.composer.findChildren(QWidget)
                  if w.focusPolicy() & Qt.TabFocus and w not in chain and w.window() is self.window()]
        for a, b in zip(chain, chain[1:]):
            QWidget.setTabOrder(a, b)

    def _scrolled(self, value: int) -> None:
        """Scrolled up to read: new content no longer pulls the view to the bottom."""
        self._stick = value >= self.scroll.verticalScrollBar().maximum() - 4

    def _follow(self, _min: int, maximum: int) -> None:
        if self._stick:
            self.scroll.verticalScrollBar().setValue(maximum)

    def clear(self) -> None:
        while self.messages.count() > 1:
            w = self.messages.takeAt(0).widget()
            if w is not None:
                w.hide()
                w.deleteLater()
        self.current = None

    def add_user(self, text: str, files=()) -> UserMessage:
        return self._add(UserMessage(text, files))

    def begin_answer(self) -> AnswerMessage:
        self.current = self._add(AnswerMessage())
        return self.current

    def show_banner(self, text: str, kind: str = "error") -> Banner:
        return self._add(Banner(text, kind))

    def banners(self) -> list[Banner]:
        return self.findChildren(Banner)

    # -- engine events -----------------------------------------------------------------
    def on_event(self, event: ev.Event) -> None:
        answer = self.current
        if answer is None:
            return
        if isinstance(event, ev.StageStarted):
            answer.set_status(stage_status(event.stage))
        elif isinstance(event, ev.Token):
            answer.append(event.text)
        elif isinstance(event, ev.TaskStarted):
            self._args[event.task_id] = dict(event.args)
        elif isinstance(event, ev.TaskFinished):
            answer.add_result(TaskResult(event.task_id, event.task, event.model_id, "done", event.seconds,
                                         event.text, event.files, args=self._args.get(event.task_id),
                                         data=event.data), event.task_id)
            self._order.start()
        elif isinstance(event, ev.TaskFailed):
            answer.add_result(TaskResult(event.task_id, event.task, event.model_id, "failed", event.seconds,
                                         error=event.error), event.task_id)
        elif isinstance(event, ev.TaskSkipped):
            answer.add_result(TaskResult(event.task_id, event.task, "", "skipped", None,
                                         error=event.reason), event.task_id)
        elif isinstance(event, ev.AnswerDone):
            answer.set_answer(event.answer["direct"], event.answer["workflow"], event.answer["notes"])
            answer.set_status("")
            announce(answer.answer, "Answer: " + (event.text or "done"))
        elif isinstance(event, ev.RunNotice):
            self.show_banner(event.message, "info")
        elif isinstance(event, ev.RunFailed):
            answer.set_status("")
            banner = self.show_banner(f"The run failed while {ev.stage_words(event.stage).doing}: {event.error}")
            announce(banner, banner.message, assertive=True)
        elif isinstance(event, ev.RunCancelled):
            answer.set_status("")
            announce(self.show_banner("Stopped. Send the request again to rerun it.", "info"), "Stopped.")

    def finish(self) -> None:
        self._args = {}
        if self.current is not None and not self.current.text and self.current.status.isVisible():
            self.current.set_status("")
        self.current = None

    # -- a saved conversation ------------------------------------------------------------
    def load(self, messages, runs: dict) -> None:
        """Rebuild from the history store: messages, and each run's results and outcome."""
        self.clear()
        answered = {m.run_id for m in messages if m.role == "assistant"}
        for m in messages:
            if m.role == "user":
                self.add_user(m.content, [a for a in m.attachments if Path(a).exists()])
                run = runs.get(m.run_id)
                if run is not None and m.run_id not in answered:
                    self._load_unanswered(run)
            else:
                self._load_answer(m, runs.get(m.run_id))
        QTimer.singleShot(0, lambda: self._follow(0, self.scroll.verticalScrollBar().maximum()))

    def _load_answer(self, message, run) -> None:
        answer = self._add(AnswerMessage())
        answer.set_status("")
        if run is not None:
            self._add_saved_results(answer, run)
        answer.set_answer(message.content, message.details.get("workflow", ()), message.details.get("notes", ()))

    def _add_saved_results(self, answer: AnswerMessage, run) -> None:
        for key, res in sorted(run.results.items(), key=lambda kv: int(kv[0])):
            answer.add_result(TaskResult(int(key), res.get("task", ""), res.get("model_id", ""),
                                         res.get("status", ""), res.get("seconds"), res.get("text", ""),
                                         [f for f in res.get("files", []) if Path(f).exists()],
                                         res.get("error", ""), args=res.get("args"), data=res.get("data")),
                              int(key))

    def _load_unanswered(self, run) -> None:
        if run.results:
            answer = self._add(AnswerMessage())
            answer.set_status("")
            self._add_saved_results(answer, run)
        kind = "info" if run.status in ("cancelled", "interrupted", "running") else "error"
        text = {"running": "This run is still going in another hgpt window."}.get(run.status, "")
        self.show_banner(text or f"This run {run.status}: {run.error or 'no answer'}", kind)

    def sizeHint(self) -> QSize:
        return QSize(640, 600)
