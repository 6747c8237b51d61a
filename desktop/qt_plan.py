"""The plan panel: the current run's task graph, drawn live, with node details.

A ``QGraphicsView`` draws ``engine.views.runview.RunView``'s nodes in layers (left to
right, in dependency order) with an arrow per dependency. Each node shows the task,
the chosen model, and its status as a coloured bar and the time it took. Clicking
a node shows what selection considered: the candidates (downloads, licence, size,
installed) and the controller's reason, and the task's arguments and outcome.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView, QGraphicsItem, QGraphicsObject, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
    QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from engine import Node, RunView, events as ev

from .qt_chat import STATUS_COLOURS

NODE_W, NODE_H, GAP_X, GAP_Y = 210, 70, 60, 24


class NodeItem(QGraphicsObject):
    clicked = Signal(int)

    def __init__(self, node: Node, palette: QPalette):
        super().__init__()
        self.node, self.palette = node, palette
        self.selected = False
        self.setAcceptedMouseButtons(Qt.LeftButton)
        self.setCursor(Qt.PointingHandCursor)
        self.setFlag(QGraphicsItem.ItemIsSelectable, False)
        self.setPos(node.layer * (NODE_W + GAP_X), node.row * (NODE_H + GAP_Y))

    def boundingRect(self) -> QRectF:
        return QRectF(-2, -2, NODE_W + 4, NODE_H + 4)

    def lines(self) -> list[str]:
        n = self.node
        took = f" · {n.seconds:.1f} s" if n.seconds is not None else ""
        return [f"[{n.id}] {n.task}", n.model_id or "model not chosen yet", f"{n.status}{took}"]

    def paint(self, painter: QPainter, option, widget=None) -> None:
        colour = QColor(STATUS_COLOURS.get(self.node.status, STATUS_COLOURS["planned"]))
        rect = QRectF(0, 0, NODE_W, NODE_H)
        painter.setRenderHint(QPainter.Antialiasing)
        border = self.palette.color(QPalette.Highlight) if self.selected else self.palette.color(QPalette.Mid)
        painter.setPen(QPen(border, 2.5 if self.selected else 1))
        painter.setBrush(self.palette.color(QPalette.Base))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setPen(Qt.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(QRectF(0, 0, 7, NODE_H), 3, 3)
        metrics = QFontMetrics(painter.font())
        for i, text in enumerate(self.lines()):
            painter.setPen(colour if i == 2 else self.palette.color(QPalette.Text))
            font = painter.font()
            font.setBold(i == 0)
            painter.setFont(font)
            text = metrics.elidedText(text, Qt.ElideMiddle, NODE_W - 20)
            painter.drawText(QPointF(14, 20 + i * 20), text)

    def mousePressEvent(self, event) -> None:
        self.clicked.emit(self.node.id)
        event.accept()


def edge_path(a: QPointF, b: QPointF) -> QPainterPath:
    path = QPainterPath(a)
    mid = (a.x() + b.x()) / 2
    path.cubicTo(QPointF(mid, a.y()), QPointF(mid, b.y()), b)
    head = QPolygonF([b, QPointF(b.x() - 9, b.y() - 5), QPointF(b.x() - 9, b.y() + 5), b])
    path.addPolygon(head)
    return path


class PlanGraph(QGraphicsView):
    node_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.items_by_id: dict[int, NodeItem] = {}
        self.placeholder = "No plan yet: send a request."

    def draw(self, view: RunView) -> None:
        scene = self.scene()
        scene.clear()
        self.items_by_id = {}
        palette = self.palette()
        if not view.nodes:
            text = scene.addText(self.placeholder)
            text.setDefaultTextColor(palette.color(QPalette.PlaceholderText))
            return
        for node in view.ordered():
            item = NodeItem(node, palette)
            item.clicked.connect(self.node_clicked)
            scene.addItem(item)
            self.items_by_id[node.id] = item
        pen = QPen(palette.color(QPalette.Mid), 1.5)
        for node in view.ordered():
            for dep in node.dep:
                if dep in self.items_by_id:
                    src, dst = self.items_by_id[dep].pos(), self.items_by_id[node.id].pos()
                    edge = QGraphicsPathItem(edge_path(src + QPointF(NODE_W, NODE_H / 2),
                                                       dst + QPointF(0, NODE_H / 2)))
                    edge.setPen(pen)
                    edge.setBrush(QBrush(palette.color(QPalette.Mid)))
                    edge.setZValue(-1)
                    scene.addItem(edge)
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-10, -10, 10, 10))

    def refresh(self, ids) -> None:
        for i in ids:
            if i in self.items_by_id:
                self.items_by_id[i].update()

    def mark(self, task_id: int | None) -> None:
        for i, item in self.items_by_id.items():
            item.selected = i == task_id
            item.update()


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
        self.reason.setText(f"Chose {node.model_id}: {node.reason}" if node.reason else
                            ("No model chosen yet." if not node.model_id else f"Model: {node.model_id}"))
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

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = RunView()
        self.graph = PlanGraph()
        self.details = NodeDetails()
        self.header = QLabel("<b>Plan</b>")
        self.graph.node_clicked.connect(self.select)
        self.split = QSplitter(Qt.Vertical)
        self.split.setObjectName("plan-split")
        self.split.addWidget(self.graph)
        self.split.addWidget(self.details)
        self.split.setSizes([300, 200])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.header)
        box.addWidget(self.split, 1)
        self.selected: int | None = None
        self.graph.draw(self.view)

    def apply(self, event: ev.Event) -> None:
        changed = self.view.apply(event)
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
        if isinstance(event, ev.StageStarted):
            self.header.setText(f"<b>Plan</b> — {event.stage}")
        elif isinstance(event, (ev.AnswerDone, ev.RunFailed, ev.RunCancelled)):
            self.header.setText(f"<b>Plan</b> — {self.view.status}")

    def load(self, run) -> None:
        """A saved run (``engine.history.RunRow``), or None for an empty panel."""
        self.view = RunView()
        self.graph.placeholder = "No plan yet: send a request."
        if run is not None:
            self.view.load(run.plan, run.selections, run.results, run.status)
            if not run.plan:
                self.graph.placeholder = "No tasks were needed: hgpt answered directly."
        self.header.setText(f"<b>Plan</b> — {run.status}" if run is not None else "<b>Plan</b>")
        self.selected = None
        self.details.show_node(None)
        self.graph.draw(self.view)

    def select(self, task_id: int) -> None:
        self.selected = task_id
        self.graph.mark(task_id)
        self.details.show_node(self.view.nodes.get(task_id))
