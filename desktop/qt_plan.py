"""The plan panel: the current run's task graph, drawn live, with node details.

A ``QGraphicsView`` draws ``engine.views.runview.RunView``'s nodes in layers (left to
right, in dependency order) with an arrow per dependency. Each node shows the task,
the chosen model, and its status as a coloured bar and the time it took; while it
runs, the time so far (ticking) and, when the expert reports it (``TaskProgress``),
a progress bar with how far it is ("12/25 steps"). Clicking a node — or moving to it
with the arrow keys, the graph having the focus — shows what selection considered:
the candidates (downloads, licence, size, installed) and the controller's reason,
and the task's arguments and outcome. Node sizes follow the font, so a larger text
size makes larger nodes.

For screen readers the graph's accessible description lists every task with its
status, and each task's status change (started, done, failed, skipped) is announced.

A task whose result was reused — from the results cache, or kept from the run a
re-run started from — carries a "cached" badge. Once a run has ended, "Re-run from
here" (a node's context menu, or the button under the details) asks for a re-run of
that task and the tasks after it (``rerun_requested``; the window opens the plan
editor on it).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush, QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView, QGraphicsItem, QGraphicsObject, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
    QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from engine import Node, RunView, events as ev

from .qt_a11y import announce, describe
from .qt_chat import STATUS_COLOURS

NODE_W, NODE_H, GAP_X, GAP_Y = 210, 70, 60, 24  # at the default font; nodes grow with the text size
BAR_H = 6


def node_size(font: QFont) -> tuple[float, float]:
    """A node's width and height for this font: three lines of text and the progress bar."""
    metrics = QFontMetrics(font)
    width = max(NODE_W, metrics.averageCharWidth() * 30 + 24)
    return width, max(NODE_H, metrics.lineSpacing() * 3 + BAR_H + 22)


def node_words(node: Node) -> str:
    """One task as a sentence: ``Task 1, text-to-speech with piper, running, 3.2 s, 5/25 steps``."""
    parts = [f"Task {node.id}, {node.task}" + (f" with {node.model_id}" if node.model_id else ""), node.status]
    if node.cached:
        parts.append("cached")
    took = node.elapsed()
    if took is not None:
        parts.append(f"{took:.1f} s")
    if node.progress is not None:
        parts.append(ev.progress_words(*node.progress))
    if node.error and node.status in ("failed", "skipped"):
        parts.append(node.error)
    return ", ".join(parts)


class NodeItem(QGraphicsObject):
    clicked = Signal(int)
    rerun = Signal(int)  # "Re-run from here" in its context menu

    def __init__(self, node: Node, palette: QPalette, size: tuple[float, float] = (NODE_W, NODE_H)):
        super().__init__()
        self.node, self.palette = node, palette
        self.w, self.h = size
        self.selected = False
        self.setAcceptedMouseButtons(Qt.LeftButton)
        self.setCursor(Qt.PointingHandCursor)
        self.setFlag(QGraphicsItem.ItemIsSelectable, False)
        self.setPos(node.layer * (self.w + GAP_X), node.row * (self.h + GAP_Y))
        self.setToolTip(node_words(node))

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, self.w + 4, self.h + 4)

    def lines(self) -> list[str]:
        n = self.node
        took = n.elapsed()
        took = f" · {took:.1f} s" if took is not None else ""
        progress = f" · {ev.progress_words(*n.progress)}" if n.progress is not None else ""
        return [f"[{n.id}] {n.task}", n.model_id or "model not chosen yet", f"{n.status}{took}{progress}"]

    def bar_rect(self) -> QRectF:
        return QRectF(14, self.h - BAR_H - 7, self.w - 24, BAR_H)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        colour = QColor(STATUS_COLOURS.get(self.node.status, STATUS_COLOURS["planned"]))
        rect = QRectF(0, 0, self.w, self.h)
        painter.setRenderHint(QPainter.Antialiasing)
        border = self.palette.color(QPalette.Highlight) if self.selected else self.palette.color(QPalette.Mid)
        painter.setPen(QPen(border, 2.5 if self.selected else 1))
        painter.setBrush(self.palette.color(QPalette.Base))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(0, 0, 7, self.h), 3, 3)
        metrics = QFontMetrics(painter.font())
        step = metrics.lineSpacing() + 2
        for i, text in enumerate(self.lines()):
            painter.setPen(colour if i == 2 else self.palette.color(QPalette.Text))
            font = painter.font()
            font.setBold(i == 0)
            painter.setFont(font)
            text = metrics.elidedText(text, Qt.ElideMiddle, int(self.w - 20))
            painter.drawText(QPointF(14, 6 + metrics.ascent() + i * step), text)
        if self.node.status == "running" or self.node.progress is not None:  # running, or its model downloading
            self._paint_bar(painter, colour)
        if self.node.cached:
            self._paint_badge(painter, metrics)

    def _paint_badge(self, painter: QPainter, metrics: QFontMetrics) -> None:
        """A "cached" pill in the top right corner: the result was reused, not computed now."""
        text = "cached"
        width, height = metrics.horizontalAdvance(text) + 10, metrics.height() + 2
        pill = QRectF(self.w - width - 5, 4, width, height)
        painter.setPen(Qt.NoPen)
        painter.setBrush(self.palette.color(QPalette.Highlight))
        painter.drawRoundedRect(pill, height / 2, height / 2)
        painter.setPen(self.palette.color(QPalette.HighlightedText))
        font = painter.font()
        font.setBold(False)
        painter.setFont(font)
        painter.drawText(pill, Qt.AlignCenter, text)

    def _paint_bar(self, painter: QPainter, colour: QColor) -> None:
        """How far the task is; without a reported total, a bar that sweeps with the time so far."""
        bar = self.bar_rect()
        painter.setPen(QPen(self.palette.color(QPalette.Mid), 1))
        painter.setBrush(self.palette.color(QPalette.AlternateBase))
        painter.drawRoundedRect(bar, 2, 2)
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        fraction = self.node.fraction
        if fraction is not None:
            painter.drawRoundedRect(QRectF(bar.x(), bar.y(), bar.width() * fraction, bar.height()), 2, 2)
        else:
            span = bar.width() / 4
            x = (self.node.elapsed() or 0.0) % 2.0 / 2.0 * (bar.width() - span)
            painter.drawRoundedRect(QRectF(bar.x() + x, bar.y(), span, bar.height()), 2, 2)

    def refresh(self) -> None:
        self.setToolTip(node_words(self.node))
        self.update()

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.node.id)
        event.accept()

    def contextMenuEvent(self, event) -> None:
        self.clicked.emit(self.node.id)
        menu = QMenu()
        action = menu.addAction("Re-run from here…")
        action.setEnabled(bool(getattr(self, "rerunnable", False)))
        if menu.exec(event.screenPos()) is action:
            self.rerun.emit(self.node.id)
        event.accept()


def edge_path(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath(a)
    mid = (a.x() + b.x()) / 2
    path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
    head = QPolygonF([b, QPointF(b.x() - 9, b.y() - 5), QPointF(b.x() - 9, b.y() + 5), b])
    path.addPolygon(head)
    return path


class PlanGraph(QGraphicsView):
    """The task graph. With the focus, the arrow keys move between tasks (in id order),
    Home and End go to the first and last, and each move shows that task's details."""

    node_clicked = Signal(int)
    rerun_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rerunnable = False  # the run shown has ended: its tasks can be re-run
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setFocusPolicy(Qt.StrongFocus)
        describe(self, "Plan graph", "No plan yet. When a request runs, its tasks appear here; "
                 "use the arrow keys to move between tasks and see the models considered for each.")
        self.items_by_id: dict[int, NodeItem] = {}
        self.placeholder = "No plan yet: send a request."
        self.current: int | None = None
        self._view: RunView | None = None
        self.ticker = QTimer(self, interval=250)  # the time so far of running tasks
        self.ticker.timeout.connect(self._tick)

    def draw(self, view: RunView) -> None:
        self._view = view
        scene = self.scene()
        scene.clear()
        self.items_by_id = {}
        palette = self.palette()
        if not view.nodes:
            text = scene.addText(self.placeholder)
            text.setDefaultTextColor(palette.color(QPalette.PlaceholderText))
            text.setFont(self.font())
            self.setAccessibleDescription(self.placeholder)
            self.ticker.stop()
            return
        size = node_size(self.font())
        for node in view.ordered():
            item = NodeItem(node, palette, size)
            item.clicked.connect(self.node_clicked)
            item.rerun.connect(self.rerun_requested)
            item.rerunnable = self.rerunnable
            scene.addItem(item)
            self.items_by_id[node.id] = item
        pen = QPen(palette.color(QPalette.Mid), 1.5)
        w, h = size
        for node in view.ordered():
            for dep in node.dep:
                if dep in self.items_by_id:
                    src, dst = self.items_by_id[dep].pos(), self.items_by_id[node.id].pos()
                    edge = QGraphicsPathItem(edge_path(src + QPointF(w, h / 2), dst + QPointF(0, h / 2)))
                    edge.setPen(pen)
                    edge.setBrush(QBrush(palette.color(QPalette.Mid)))
                    edge.setZValue(-1)
                    scene.addItem(edge)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-10, -10, 10, 10))
        self.mark(self.current if self.current in self.items_by_id else None)
        self._describe()

    def refresh(self, ids) -> None:
        for i in ids:
            if i in self.items_by_id:
                self.items_by_id[i].refresh()
        self._describe()

    def _describe(self) -> None:
        nodes = [item.node for item in self.items_by_id.values()]
        self.setAccessibleDescription(f"{len(nodes)} task{'s' * (len(nodes) != 1)}: "
                                      + "; ".join(node_words(n) for n in nodes))
        if any(n.status == "running" or n.progress is not None for n in nodes):
            if not self.ticker.isActive():
                self.ticker.start()
        else:
            self.ticker.stop()

    def _tick(self) -> None:
        running = [i for i, item in self.items_by_id.items()
                   if item.node.status == "running" or item.node.progress is not None]
        for i in running:
            self.items_by_id[i].update()
        if not running:
            self.ticker.stop()

    def mark(self, task_id: int | None) -> None:
        self.current = task_id
        for i, item in self.items_by_id.items():
            item.selected = i == task_id
            item.update()
        if task_id in self.items_by_id:
            self.ensureVisible(self.items_by_id[task_id], 10, 10)

    def keyPressEvent(self, event) -> None:
        ids = sorted(self.items_by_id)
        key = event.key()
        if not ids or key not in (Qt.Key_Right, Qt.Key_Down, Qt.Key_Left, Qt.Key_Up, Qt.Key_Home, Qt.Key_End,
                                  Qt.Key_Return, Qt.Key_Enter, Qt.Key_Space):
            super().keyPressEvent(event)
            return
        at = ids.index(self.current) if self.current in ids else -1
        if key in (Qt.Key_Right, Qt.Key_Down):
            at = min(at + 1, len(ids) - 1)
        elif key in (Qt.Key_Left, Qt.Key_Up):
            at = max(at - 1, 0)
        elif key == Qt.Key_Home:
            at = 0
        elif key == Qt.Key_End:
            at = len(ids) - 1
        else:
            at = max(at, 0)
        self.node_clicked.emit(ids[at])
        announce(self, node_words(self.items_by_id[ids[at]].node))
        event.accept()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (event.Type.FontChange, event.Type.PaletteChange) and self._view is not None:
            self.draw(self._view)  # node sizes follow the font, colours the palette


class PreflightBar(QWidget):
    """Pre-flight above the graph: what the plan needs in a sentence and, when the run waits
    for it (models to download, the network allowed), Download and run / Run without."""

    answered = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.fetch = QPushButton("Download and run")
        self.skip = QPushButton("Run without")
        describe(self.text, "Pre-flight", "what the plan needs before it runs: models, downloads, memory")
        describe(self.fetch, "Download and run", "download the models the plan needs, then run it")
        describe(self.skip, "Run without", "run now; the tasks whose model is missing fail and say how to get it")
        self.fetch.clicked.connect(lambda: self._answer("fetch"))
        self.skip.clicked.connect(lambda: self._answer("run"))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.text, 1)
        row.addWidget(self.fetch)
        row.addWidget(self.skip)
        self.done_asking()
        self.hide()

    def show_for(self, view: RunView) -> None:
        self.text.setText(view.preflight_words())
        self.fetch.setVisible(view.asks)
        self.skip.setVisible(view.asks)
        self.show()
        if view.asks:
            announce(self, self.text.text())

    def done_asking(self) -> None:
        self.fetch.hide()
        self.skip.hide()

    def _answer(self, decision: str) -> None:
        self.done_asking()
        self.answered.emit(decision)


class NodeDetails(QWidget):
    COLUMNS = ("model", "downloads", "licence", "size MB", "installed")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Click a task to see the models considered for it.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.table = QTableWidget(0, len(self.COLUMNS))
        describe(self.table, "Models considered for the selected task",
                 "the candidates selection looked at; the chosen one is in bold")
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; the arrow keys move inside
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for c in range(len(self.COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.Stretch if c == 0 else QHeaderView.ResizeToContents)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for w in (self.title, self.reason, self.table):
            box.addWidget(w)

    def show_node(self, node: Node | None) -> None:
        if node is None:
            self.title.setText("Click a task to see the models considered for it.")
            self.reason.setText("")
            self.table.setRowCount(0)
            return
        args = ", ".join(f"{k}={v}" for k, v in node.args.items())
        outcome = node.text or node.error
        self.title.setText(f"[{node.id}] {node.task} ({args}) — {node.status}"
                           + (f": {outcome[:300]}" if outcome else ""))
        chose = (f"Chose {node.model_id}: {node.reason}" if node.reason else
                 ("No model chosen yet." if not node.model_id else f"Model: {node.model_id}"))
        chose += "" if chose.endswith((".", "!", "?")) else "."  # a reason is a phrase; the pre-flight follows it
        self.reason.setText(chose + (f" Pre-flight: {node.verdict_words}." if node.verdict_words else ""))
        self.table.setRowCount(len(node.candidates))
        for r, card in enumerate(node.candidates):
            installed = card.get("installed", True)
            cells = (card.get("id", ""), f"{card.get('downloads', 0):,}", card.get("licence", ""),
                     f"{card.get('size_mb', 0) or 0:.0f}", "yes" if installed else "no")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(str(text))
                if c == 0 and card.get("description"):
                    item.setToolTip(card["description"])
                if card.get("id") == node.model_id:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)


class PlanPanel(QWidget):
    """Graph above, details of the clicked node below."""

    rerun_requested = Signal(int)  # a task id of the run shown (``run_id``), to re-run from
    preflight_answer = Signal(object)  # "fetch" (Download and run) or "run" (Run without), for the waiting run

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = RunView()
        self.graph = PlanGraph()
        self.details = NodeDetails()
        self.header = QLabel("<b>Plan</b>")
        self.written = QLabel("", wordWrap=True, visible=False)  # whose plan, when not the rails'
        describe(self.written, "Who wrote the plan", "shown when the controller wrote the plan itself")
        self.preflight = PreflightBar()
        self.preflight.answered.connect(self.preflight_answer)
        self.graph.node_clicked.connect(self.select)
        self.graph.rerun_requested.connect(self.rerun_requested)
        self.rerun_button = QPushButton("Re-run from here…")
        describe(self.rerun_button, "Re-run from the selected task",
                 "run the selected task and the tasks after it again, with its arguments and model editable")
        self.rerun_button.setEnabled(False)
        self.rerun_button.clicked.connect(lambda: self.selected is not None and self.rerun_requested.emit(self.selected))
        self.details.layout().addWidget(self.rerun_button)
        self.split = QSplitter(Qt.Vertical)
        self.split.setObjectName("plan-split")
        self.split.addWidget(self.graph)
        self.split.addWidget(self.details)
        self.split.setSizes([300, 200])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.header)
        box.addWidget(self.written)
        box.addWidget(self.preflight)
        box.addWidget(self.split, 1)
        self.selected: int | None = None
        self.graph.draw(self.view)

    def apply(self, event: ev.Event) -> None:
        changed = self.view.apply(event)
        if isinstance(event, (ev.RunStarted, ev.PlanReady)):  # the controller's own plan says why it runs
            drafted = isinstance(event, ev.PlanReady) and event.writer == "draft" and event.why
            self.written.setText(f"{event.why[:1].upper()}{event.why[1:]}." if drafted else "")
            self.written.setVisible(bool(drafted))
        if isinstance(event, (ev.RunStarted, ev.PlanReady, ev.PlanReviewed)):
            self.graph.placeholder = ("No tasks needed: hgpt answers directly." if isinstance(event, ev.PlanReady)
                                      else "Planning…")
            self.selected = None
            self.details.show_node(None)
            self.graph.draw(self.view)
        elif changed:
            self.graph.refresh(changed)
            if self.selected in changed:
                self.details.show_node(self.view.nodes[self.selected])
            if isinstance(event, (ev.TaskStarted, ev.TaskFinished, ev.TaskFailed, ev.TaskSkipped)):
                node = self.view.nodes.get(event.task_id)
                if node is not None:  # a status change, said to screen readers (progress is not)
                    announce(self.graph, node_words(node))
        if isinstance(event, ev.PreflightReady):
            self.preflight.show_for(self.view)
        elif isinstance(event, (ev.RunStarted, ev.TaskStarted, ev.RunFailed, ev.RunCancelled, ev.AnswerDone)):
            self.preflight.done_asking()
        if isinstance(event, ev.RunStarted):
            self.preflight.hide()
        if isinstance(event, ev.StageStarted):
            self.header.setText(f"<b>Plan</b> — {event.stage}")
        elif isinstance(event, (ev.AnswerDone, ev.RunFailed, ev.RunCancelled)):
            self.header.setText(f"<b>Plan</b> — {self.view.status}")
            self._set_rerunnable(True)
        if isinstance(event, ev.RunStarted):
            self._set_rerunnable(False)

    @property
    def run_id(self) -> str:
        return self.view.run_id

    def _set_rerunnable(self, on: bool) -> None:
        on = on and bool(self.view.run_id) and bool(self.view.nodes)
        self.graph.rerunnable = on
        for item in self.graph.items_by_id.values():
            item.rerunnable = on
        self.rerun_button.setEnabled(on and self.selected is not None)

    def load(self, run) -> None:
        """A saved run (``engine.history.RunRow``), or None for an empty panel."""
        self.view = RunView()
        self.graph.placeholder = "No plan yet: send a request."
        if run is not None:
            self.view.load(run.plan, run.selections, run.results, run.status, run_id=run.id)
            if not run.plan:
                self.graph.placeholder = "No tasks were needed: hgpt answered directly."
        self.header.setText(f"<b>Plan</b> — {run.status}" if run is not None else "<b>Plan</b>")
        self.written.hide()
        self.selected = None
        self.details.show_node(None)
        self.graph.rerunnable = run is not None and run.status != "running"
        self.graph.draw(self.view)
        self._set_rerunnable(self.graph.rerunnable)

    def select(self, task_id: int) -> None:
        self.selected = task_id
        self.graph.mark(task_id)
        self.details.show_node(self.view.nodes.get(task_id))
        self.rerun_button.setEnabled(self.graph.rerunnable and task_id in self.view.nodes)
