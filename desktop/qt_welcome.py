"""The welcome page: what this computer has, what works offline now, which controller fits.

A view over ``engine.views.welcome.Welcome`` (built off the UI thread by a ``Job``:
it reads the GPUs and the installed experts): the memory, cores and GPU; one button
per task type the installed experts run, with an example request — clicking it puts
the request in the chat's request box (attaching the sample picture when the
example needs one); and the controller recommended for this machine's memory, with
its download size when the network is allowed. The window shows it on first start
and Help → Welcome brings it back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCommandLinkButton, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea,
    QVBoxLayout, QWidget,
)

from .qt_a11y import describe, relative_font
from .worker import Job


def _text(text: str = "", selectable: bool = True) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


class WelcomePage(QScrollArea):
    example_chosen = Signal(str, str, str)  # request, what it needs attached ("" | image | audio), sample file
    start_requested = Signal()
    loaded = Signal(object)  # the Welcome, once shown (or the error message)

    def __init__(self, facts_fn, parent=None):
        """``facts_fn()`` returns the ``engine.views.welcome.Welcome`` (called in a thread)."""
        super().__init__(parent)
        self._facts_fn = facts_fn
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        describe(self, "Welcome page")
        self.facts = None
        self.offer_buttons: dict[str, QCommandLinkButton] = {}
        page = QWidget()
        page.setMaximumWidth(1000)
        box = QVBoxLayout(page)
        box.setContentsMargins(24, 18, 24, 18)
        box.setSpacing(14)
        title = relative_font(QLabel("Welcome to hgpt"), 1.6, bold=True)
        box.addWidget(title)
        box.addWidget(_text("hgpt plans your request into tasks, picks a model for each, runs them on this "
                            "computer — offline — and answers with what it did. Here is what it can do here."))
        self.machine_box = QGroupBox("This computer")
        self.machine_lines = _text("Looking at this computer…")
        QVBoxLayout(self.machine_box).addWidget(self.machine_lines)
        box.addWidget(self.machine_box)
        self.offers_box = QGroupBox("Works offline now")
        offers = QVBoxLayout(self.offers_box)
        self.offers_note = _text("Finding the installed models…")
        offers.addWidget(self.offers_note)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(10)
        offers.addLayout(self.grid)
        box.addWidget(self.offers_box)
        self.controller_box = QGroupBox("The planning model (controller) for this computer")
        cbox = QVBoxLayout(self.controller_box)
        self.controller_text = _text("")
        self.controller_how = _text("")
        relative_font(self.controller_how, 0.9)
        self.controller_how.hide()
        cbox.addWidget(self.controller_text)
        cbox.addWidget(self.controller_how)
        box.addWidget(self.controller_box)
        self.start_button = QPushButton("Start chatting")
        describe(self.start_button, "Start chatting", "close this page and go to the chat; Help → Welcome "
                 "opens it again")
        self.start_button.clicked.connect(self.start_requested)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.start_button)
        box.addLayout(row)
        box.addStretch(1)
        outer = QWidget()
        centre = QHBoxLayout(outer)
        centre.addWidget(page, 1)
        self.setWidget(outer)
        self._loading = False

    def load(self) -> None:
        if self._loading:
            return
        self._loading = True
        job = Job(self._facts_fn, "hgpt-welcome")
        job.then(self, self.show_facts, self._failed).start()

    def _failed(self, message: str) -> None:
        self._loading = False
        self.offers_note.setText(f"The installed models could not be listed: {message}")
        self.loaded.emit(message)

    def show_facts(self, facts) -> None:
        self._loading = False
        self.facts = facts
        self.machine_lines.setText("\n".join(facts.machine.lines()))
        describe(self.machine_box, "This computer", "; ".join(facts.machine.lines()))
        for button in self.offer_buttons.values():
            self.grid.removeWidget(button)
            button.deleteLater()
        self.offer_buttons = {}
        self.offers_note.setText(
            f"{len(facts.offers)} kinds of task run on this computer without the network. Click one to put its "
            "example in the request box." if facts.offers else
            "No task models are installed yet: ./scripts/setup installs the built-in ones.")
        for i, offer in enumerate(facts.offers):
            needs = {"image": " (uses a sample picture)" if offer.sample else " (attach a picture)",
                     "audio": " (attach a recording)"}.get(offer.needs, "")
            button = QCommandLinkButton(offer.task, f"“{offer.example}”{needs}")
            button.setToolTip(f"{offer.description}. Models: {', '.join(offer.models)}")
            describe(button, f"Try {offer.task}: {offer.example}",
                     f"{offer.description}{needs}. Puts the example in the request box.")
            button.clicked.connect(lambda _=False, o=offer: self.example_chosen.emit(
                o.example, o.needs, o.sample))
            self.grid.addWidget(button, i // 2, i % 2)
            self.offer_buttons[offer.task] = button
        advice = facts.controller
        self.controller_text.setText(advice.sentence() if advice else "models.lock names no controller.")
        self.controller_how.setText(f"Or by hand: {advice.how}" if advice and advice.how and not advice.offline else "")
        self.controller_how.setVisible(bool(self.controller_how.text()))
        self.loaded.emit(facts)
