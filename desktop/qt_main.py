"""The main window: conversations, the chat, the plan panel, Models and Settings.

It owns the pieces the views share: the engine host (the engine's heavy parts
load off the UI thread, on the first request or by a warm-up after the window
first paints), the engine's history store, and the one run in flight — a
``RunWorker`` whose events feed the chat and the plan panel; the engine keeps the
run in the history as a turn of the open conversation. With plan review on, the
run asks for review through its stream and waits until the review panel answers.
New settings reach the engine at once (``Engine.update``) and apply from the next
request.

Window geometry, splitters, the open tab, the theme and the text size are kept with
``QSettings`` in the data folder. Every action is in the menu bar with its keys
(Help → Keyboard shortcuts lists them): Ctrl+Enter sends, Ctrl+N starts a new chat,
Esc stops, Ctrl+1/2/3 switch views, Ctrl+plus/minus/0 change the text size. The
first start opens the welcome page (Help → Welcome brings it back).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QGroupBox, QMainWindow, QMessageBox, QSplitter, QTabWidget,
)

from engine import ApiServer, CancelToken, HgptError, PlanDraft, ServeConfig, Settings, events as ev, load_settings

from .host import EngineHost
from .qt_carry import Carry
from .qt_a11y import describe, name_unnamed
from .qt_chat import ChatView
from .qt_conversations import ConversationList
from .qt_models import ModelsView
from .qt_plan import PlanPanel
from .qt_review import ReviewPanel
from .qt_planning import PlanningBox
from .qt_settings import SettingsView
from .qt_theme import SCALES, THEMES, Appearance
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
        self.api_server: ApiServer | None = None  # the local API, when Settings turns it on
        self.first_painted.connect(self.apply_api_server)
        self.appearance = Appearance(self.qsettings(), self)
        self.appearance.apply()
        self.welcome = None
        self._build()
        self._menus()
        name_unnamed(self)  # a safety net: any control still without a name takes its label's
        self._restore()
        self.conversations.reload()
        if self.conversations.list.count():
            self.conversations.list.setCurrentRow(0)
        self._welcome_pending = not self.qsettings().value("welcome/seen", False, type=bool)

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
        self.settings_view.add_section(self._appearance_box())
        self.planning_box = PlanningBox(lambda cancel: self.host.ready().calibrate(None, cancel),
                                        lambda: self.settings.planning_file)
        self.settings_view.add_section(self.planning_box)
        self.tabs = QTabWidget()
        describe(self.tabs, "Views", "Chat, Models and Settings (Ctrl+1, Ctrl+2, Ctrl+3)")
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
        self.plan.preflight_answer.connect(lambda decision: self.worker is not None and self.worker.answer(decision))
        self.review.declined.connect(lambda: self._review_answer(None))
        self.settings_view.saved.connect(self.apply_settings)
        self.carry = Carry(self)  # re-run from a task; chat export and import
        self.plan.rerun_requested.connect(self.carry.rerun_from)

    def _appearance_box(self) -> QGroupBox:
        """Theme and text size: they apply at once (and are kept in window.ini)."""
        box = QGroupBox("Appearance — applies at once")
        form = QFormLayout(box)
        self.theme_box = QComboBox()
        for key, title in THEMES.items():
            self.theme_box.addItem(title, key)
        self.theme_box.setCurrentIndex(self.theme_box.findData(self.appearance.theme))
        describe(self.theme_box, "Theme", "light, dark or high contrast; by default it follows the system")
        self.theme_box.currentIndexChanged.connect(lambda i: self.appearance.set_theme(self.theme_box.itemData(i)))
        self.scale_box = QComboBox()
        for percent in SCALES:
            self.scale_box.addItem(f"{percent} %", percent)
        self.scale_box.setCurrentIndex(self.scale_box.findData(self.appearance.scale))
        describe(self.scale_box, "Text size", "scales the whole window (Ctrl+plus, Ctrl+minus, Ctrl+0)")
        self.scale_box.currentIndexChanged.connect(lambda i: self.appearance.set_scale(self.scale_box.itemData(i)))
        form.addRow("Theme", self.theme_box)
        form.addRow("Text size", self.scale_box)
        self.appearance.changed.connect(self._appearance_changed)
        return box

    def _appearance_changed(self) -> None:
        for combo, value in ((self.theme_box, self.appearance.theme), (self.scale_box, self.appearance.scale)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)
        if hasattr(self, "theme_actions"):
            self.theme_actions[self.appearance.theme].setChecked(True)

    def _action(self, menu, text: str, slot, keys=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _menus(self) -> None:
        """Every action of the window, each with its keys (Help → Keyboard shortcuts lists them)."""
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New chat", self.new_chat, ["Ctrl+N"])
        self._action(file, "&Attach files…", self.attach, ["Ctrl+O"])
        self._action(file, "&Send request", self.chat.composer.send, ["Ctrl+Return", "Ctrl+Enter"])
        self._action(file, "S&top", self.stop, ["Esc"], "stop the run (or the plan waiting for review)")
        file.addSeparator()
        self._action(file, "&Export chat as Markdown…", lambda: self.carry.export("md"), ["Ctrl+E"],
                     "the open chat as Markdown, its pictures and audio copied beside it")
        self._action(file, "Export chat as &JSON…", lambda: self.carry.export("json"), ["Ctrl+Shift+E"],
                     "the open chat with its plans, results and provenance; File → Import chat restores it")
        self._action(file, "&Import chat…", lambda: self.carry.import_(), ["Ctrl+Shift+O"],
                     "restore a chat exported as JSON")
        file.addSeparator()
        self._action(file, "&Quit", self.close, ["Ctrl+Q"])
        view = bar.addMenu("&View")
        for i, name in enumerate(("Chat", "Models", "Settings")):
            self._action(view, f"&{name}", lambda _=False, i=i: self.tabs.setCurrentIndex(i), [f"Ctrl+{i + 1}"])
        view.addSeparator()
        self._action(view, "Go to the &request box", self.focus_request, ["Ctrl+L"])
        self._action(view, "Search &chats", self.focus_search, ["Ctrl+F"])
        self._action(view, "Go to the &plan", self.focus_plan, ["Ctrl+P"])
        self._action(view, "Go to the last &answer", self.focus_answer, ["Ctrl+Shift+A"],
                     "move to the last answer (a screen reader reads it)")
        view.addSeparator()
        themes = view.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions = {}
        for key, title in THEMES.items():
            action = self._action(themes, title, lambda _=False, k=key: self.appearance.set_theme(k))
            action.setCheckable(True)
            action.setChecked(key == self.appearance.theme)
            group.addAction(action)
            self.theme_actions[key] = action
        self._action(view, "&Larger text", self.appearance.bigger, ["Ctrl++", "Ctrl+="])
        self._action(view, "S&maller text", self.appearance.smaller, ["Ctrl+-"])
        self._action(view, "&Normal text size", lambda: self.appearance.set_scale(100), ["Ctrl+0"])
        plan = bar.addMenu("&Plan")
        self.run_plan_action = self._action(plan, "&Run the reviewed plan", self.review.approve, ["Ctrl+R"])
        self._action(plan, "Re-run from the &selected task…", lambda: self.carry.rerun_from(), ["Ctrl+Shift+R"],
                     "run the selected task and the tasks after it again, arguments and model editable")
        self._action(plan, "&Cancel the run", self.stop)
        self._action(plan, "Review each plan before it runs (Settings)", lambda: self.tabs.setCurrentWidget(
            self.settings_view))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Welcome", self.show_welcome, ["Ctrl+Shift+W"])
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, ["F1", "Ctrl+/"])
        self._action(help_menu, "&About hgpt", self.show_about)

    # -- keyboard paths ----------------------------------------------------------------------
    def _to_chat(self) -> None:
        self.tabs.setCurrentIndex(0)

    def attach(self) -> None:
        self._to_chat()
        self.chat.composer.choose_attachments()

    def focus_request(self) -> None:
        self._to_chat()
        self.chat.composer.input.setFocus(Qt.ShortcutFocusReason)

    def focus_search(self) -> None:
        self._to_chat()
        self.conversations.search.setFocus(Qt.ShortcutFocusReason)
        self.conversations.search.selectAll()

    def focus_plan(self) -> None:
        self._to_chat()
        self.plan.graph.setFocus(Qt.ShortcutFocusReason)

    def focus_answer(self) -> None:
        self._to_chat()
        from .qt_chat import AnswerMessage

        answers = [a for a in self.chat.findChildren(AnswerMessage) if a.answer.isVisible()]
        if answers:
            answers[-1].answer.setFocus(Qt.ShortcutFocusReason)
            self.chat.scroll.ensureWidgetVisible(answers[-1].answer)

    def show_shortcuts(self) -> None:
        from .qt_help import ShortcutsDialog

        self.shortcuts_dialog = ShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.show()

    def show_about(self) -> None:
        import engine

        QMessageBox.about(self, "About hgpt", f"hgpt {engine.__version__}: HuggingGPT on your computer, offline. "
                          f"Data folder: {self.settings.home}")

    # -- welcome page ------------------------------------------------------------------------
    def show_welcome(self) -> None:
        if self.welcome is None:
            from .qt_welcome import WelcomePage

            self.welcome = WelcomePage(self._welcome_facts)
            self.welcome.example_chosen.connect(self.use_example)
            self.welcome.start_requested.connect(self.close_welcome)
        if self.tabs.indexOf(self.welcome) < 0:
            self.tabs.addTab(self.welcome, "Welcome")
        self.tabs.setCurrentWidget(self.welcome)
        if self._painted:
            self.welcome.load()
        else:  # after the first paint: the window shows before the experts are listed
            self.first_painted.connect(self.welcome.load)

    def _welcome_facts(self):
        from engine import welcome

        return welcome(self.host.get().registry, self.settings)

    def close_welcome(self) -> None:
        if self.welcome is not None and self.tabs.indexOf(self.welcome) >= 0:
            self.tabs.removeTab(self.tabs.indexOf(self.welcome))
        self.focus_request()

    def use_example(self, request: str, needs: str, sample: str) -> None:
        """A welcome-page example into the request box (with the sample picture it needs)."""
        self.close_welcome()
        composer = self.chat.composer
        composer.input.setPlainText(request)
        if sample:
            composer.add_attachments([sample])
        elif needs:
            self.chat.show_banner(f"This example needs {'a picture' if needs == 'image' else 'a recording'}: "
                                  "attach one with Attach… (Ctrl+O) or drop it here, then send.", "info")
        composer.input.setFocus(Qt.ShortcutFocusReason)

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
            if self._welcome_pending:  # first start: after the chat's splitters are laid out
                self._welcome_pending = False
                self.show_welcome()
                qs = self.qsettings()
                qs.setValue("welcome/seen", True)  # shown once; Help → Welcome brings it back
                qs.sync()

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
            QTimer.singleShot(0, self.first_painted.emit)

    def closeEvent(self, event) -> None:
        self.save_state()
        self.stop_api_server()
        if self.worker is not None:
            self.worker.stop()
            self.worker.wait(30_000)
        self.planning_box.shutdown()
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
        self._to_chat()
        self.chat.add_user(text, files)
        self.chat.begin_answer()
        self.chat.composer.clear()

        missing = "run" if self.settings.offline else "ask"  # online: the plan panel offers Download and run

        def start(cancel):
            return self.host.ready().run(text, files, cancel=cancel, review=review, conversation=cid,
                                         missing=missing)

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
        self.worker = None  # RunWorker.running keeps it until its thread has ended
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
        if self.carry.take_review(decision):  # the editor was open for a re-run
            return
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
        self.apply_api_server()

    # -- the local API server ---------------------------------------------------------------------
    def apply_api_server(self) -> None:
        """Start, restart (new port) or stop the local API as Settings say; it serves this
        window's engine, so its runs are in the same history."""
        want, port, key = self.settings.api_server, self.settings.api_port, self.settings.api_key
        if self.api_server is not None and (not want or self.api_server.config.port != port
                                            or self.api_server.config.api_key != key):
            self.stop_api_server()
        if not want:
            self.settings_view.api.say("Off.", "info")
            return
        if self.api_server is None:
            try:
                server = ApiServer(self.host.get(), ServeConfig(host="127.0.0.1", port=port, api_key=key))
                url = server.start()
            except HgptError as exc:
                self.settings_view.api.say(f"Not serving: {exc}", "error")
                return
            self.api_server = server
            needs = " Programs must send the API key." if key else ""
            self.settings_view.api.say(f"Serving on {url} (OpenAI base URL {url}/v1, MCP {url}/mcp).{needs}", "done")

    def stop_api_server(self) -> None:
        if self.api_server is not None:
            self.api_server.stop()
            self.api_server = None
