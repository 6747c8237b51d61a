"""The main window: conversations, the chat, the plan panel, Models and Settings.

It owns the pieces the views share: the engine host (the engine's heavy parts
load off the UI thread, on the first request or by a warm-up after the window
first paints), the engine's history store, and the one run in flight — a
``RunWorker`` whose events feed the chat and the plan panel; the engine keeps the
run in the history as a turn of the open conversation. With plan review on, the
run asks for review through its stream and waits until the review panel answers.
New settings reach the engine at once (``Engine.update``) and apply from the next
request.

Window geometry, splitters and the open tab are kept with ``QSettings`` in the
data folder. Keyboard: Ctrl+Enter sends, Ctrl+N starts a new chat, Esc stops.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QSplitter, QTabWidget

from engine import CancelToken, PlanDraft, Settings, events as ev, load_settings

from .host import EngineHost
from .qt_chat import ChatView
from .qt_conversations import ConversationList
from .qt_models import ModelsView
from .qt_plan import PlanPanel
from .qt_review import ReviewPanel
from .qt_settings import SettingsView
from .worker import RunWorker


class MainWindow(QMainWindow):
    first_painted = Signal()
    run_finished = Signal()

    def __init__(self, settings: Settings | None = None, engine_factory=None, parent=None):
        super().__init__(parent)
        self.settings = settings or load_settings()
        self.setWindowTitle("hgpt")
        self.host = EngineHost(self.settings, engine_factory)
        self.store = self.host.get().history
        self.conversation_id: int | None = None
        self.worker: RunWorker | None = None
        self._painted = False
        self._build()
        self._shortcuts()
        self._restore()
        self.conversations.reload()
        if self.conversations.list.count():
            self.conversations.list.setCurrentRow(0)

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.conversations = ConversationList(self.store)
        self.chat = ChatView(lambda: self.settings.home / "pasted")
        self.plan = PlanPanel()
        self.review = ReviewPanel()
        self.review.hide()
        self.right = QSplitter(Qt.Vertical)
        self.right.setObjectName("right-split")
        self.right.addWidget(self.plan)
        self.right.addWidget(self.review)
        self.split = QSplitter(Qt.Horizontal)
        self.split.setObjectName("main-split")
        for w in (self.conversations, self.chat, self.right):
            self.split.addWidget(w)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([220, 620, 420])
        self.models = ModelsView(self._browser)
        self.settings_view = SettingsView(self.settings)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.split, "Chat")
        self.tabs.addTab(self.models, "Models")
        self.tabs.addTab(self.settings_view, "Settings")
        self.setCentralWidget(self.tabs)
        self.conversations.selected.connect(self.open_conversation)
        self.conversations.new_requested.connect(self.new_chat)
        self.conversations.failed.connect(self.chat.show_banner)
        self.chat.composer.send_requested.connect(self.send)
        self.chat.composer.stop_requested.connect(self.stop)
        self.review.approved.connect(self._review_answer)
        self.review.declined.connect(lambda: self._review_answer(None))
        self.settings_view.saved.connect(self.apply_settings)

    def _shortcuts(self) -> None:
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, activated=self.chat.composer.send)
        QShortcut(QKeySequence("Ctrl+N"), self, activated=self.new_chat)
        QShortcut(QKeySequence(Qt.Key_Escape), self, activated=self.stop)

    # -- window state ------------------------------------------------------------------------
    def qsettings(self) -> QSettings:
        return QSettings(str(self.settings.home / "window.ini"), QSettings.IniFormat)

    def _restore(self) -> None:
        qs = self.qsettings()
        if not self.restoreGeometry(QByteArray(qs.value("geometry", QByteArray()))):
            self.resize(1280, 800)

    def _restore_splitters(self) -> None:
        """After the first show, when the splitters have their real widths."""
        qs = self.qsettings()
        for splitter in (self.split, self.right, self.plan.split, self.models.split):
            state = qs.value(f"splitters/{splitter.objectName()}")
            if state is not None:
                splitter.restoreState(QByteArray(state))
        self.tabs.setCurrentIndex(int(qs.value("tab", 0)))  # after the chat splitters are laid out

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not getattr(self, "_shown", False):
            self._shown = True
            self._restore_splitters()

    def save_state(self) -> None:
        qs = self.qsettings()
        qs.setValue("geometry", self.saveGeometry())
        for splitter in (self.split, self.right, self.plan.split, self.models.split):
            qs.setValue(f"splitters/{splitter.objectName()}", splitter.saveState())
        qs.setValue("tab", self.tabs.currentIndex())
        qs.sync()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self.first_painted)

    def closeEvent(self, event) -> None:
        self.save_state()
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait(30_000)
        self.store.close()
        super().closeEvent(event)

    # -- conversations -------------------------------------------------------------------------
    def new_chat(self) -> None:
        if self.worker is not None:
            self.chat.show_banner("A run is going; stop it (Esc) or wait before starting a new chat.", "info")
            return
        conv = self.store.new_conversation()
        self.conversations.search.clear()
        self.conversations.reload(select=conv.id)
        self.open_conversation(conv.id)
        self.tabs.setCurrentIndex(0)
        self.chat.composer.input.setFocus()

    def open_conversation(self, conversation_id) -> None:
        if self.worker is not None and conversation_id != self.conversation_id:
            self.conversations.reload(select=self.conversation_id)
            self.chat.show_banner("A run is going in this chat; stop it (Esc) before switching.", "info")
            return
        self.conversation_id = conversation_id
        if conversation_id is None:
            self.chat.clear()
            self.plan.load(None)
            return
        runs = {r.id: r for r in self.store.runs(conversation_id)}
        self.chat.load(self.store.messages(conversation_id), runs)
        self.plan.load(list(runs.values())[-1] if runs else None)

    # -- runs -------------------------------------------------------------------------------
    def send(self, text: str, files: list) -> None:
        if self.worker is not None:
            return
        if self.conversation_id is None:
            conv = self.store.new_conversation()
            self.conversation_id = conv.id
            self.conversations.reload(select=conv.id)
        cid, review = self.conversation_id, self.settings.review_plan
        self.chat.add_user(text, files)
        self.chat.begin_answer()
        self.chat.composer.clear()

        def start(cancel):
            return self.host.ready().run(text, files, cancel=cancel, review=review, conversation=cid)

        self.worker = RunWorker(start, CancelToken())
        self.worker.event.connect(self.on_event)
        self.worker.failed.connect(self.on_failed)
        self.worker.finished.connect(self.on_finished)
        self.chat.composer.set_running(True)
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            if self.review.isVisible():
                self.review.hide()

    def on_event(self, event: ev.Event) -> None:
        self.chat.on_event(event)
        self.plan.apply(event)
        if isinstance(event, ev.RunStarted):
            self.conversations.reload(select=self.conversation_id)
        elif isinstance(event, ev.ReviewRequested):
            self.on_review_requested(event)

    def on_failed(self, message: str) -> None:
        self.chat.show_banner(message)

    def on_finished(self) -> None:
        self.chat.finish()
        self.worker = None
        self.review.hide()
        self.chat.composer.set_running(False)
        self.conversations.reload(select=self.conversation_id)
        self.run_finished.emit()

    # -- plan review ----------------------------------------------------------------------------
    def on_review_requested(self, event: ev.ReviewRequested) -> None:
        engine = self.host.get()
        was_hidden = not self.review.isVisible()
        self.review.start(PlanDraft.from_list(event.tasks, engine.task_types, engine.registry), event.problems)
        if was_hidden:  # give the review room; the graph above still shows the plan
            height = self.right.height()
            self.right.setSizes([height // 3, height - height // 3])
        self.tabs.setCurrentIndex(0)

    def _review_answer(self, decision) -> None:
        if self.worker is not None:
            self.worker.answer(decision)

    # -- models and settings ----------------------------------------------------------------------
    def _browser(self):
        return self.host.get().models()  # called from the Models view's loading thread

    def apply_settings(self, settings: Settings) -> None:
        moved = settings.home != self.settings.home
        self.settings = settings
        self.host.update(settings)
        if moved and self.worker is None:
            self.store = self.host.get().history
            self.conversations.store = self.store
            self.conversation_id = None
            self.conversations.reload()
            self.open_conversation(None)
        self.models.reset()
