"""Plan review: edit the plan before it runs (when Settings → "Review plans" is on).

A view over ``engine.plan.review.PlanDraft``: one row per task with its type, its
arguments (one field per slot of that type) and the model to use ("let hgpt
choose" or an installed model that can do the task), and a delete button. The
problems ``PlanDraft.problems()`` finds (``engine.plan.graph.validate`` plus model
checks) are listed under the tasks, and Run stays disabled until there are none.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
    QScrollArea, QToolButton, QVBoxLayout, QWidget,
)

from engine import PlanDraft, ReviewedPlan

from .qt_a11y import describe
from .qt_chat import STATUS_COLOURS

AUTO = "let hgpt choose"


class TaskEditor(QGroupBox):
    def __init__(self, panel: "ReviewPanel", task_id: int):
        draft = panel.draft
        task = draft.task(task_id)
        super().__init__(f"Task {task.id}")
        self.task_id = task_id
        form = QFormLayout(self)
        self.task_box = QComboBox()
        self.task_box.addItems(sorted(draft.task_types))
        self.task_box.setCurrentText(task.task)
        self.task_box.currentTextChanged.connect(lambda name: panel.change_task(task_id, name))
        describe(self.task_box, f"Task {task.id} type", "changing it resets the task's arguments")
        form.addRow("task", self.task_box)
        self.arg_edits: dict[str, QLineEdit] = {}
        for key, modality in draft.task_types[task.task].args.items():
            edit = QLineEdit(task.args.get(key, ""))
            edit.setPlaceholderText(f"{modality}: a file name, text, or <resource>-N")
            edit.textEdited.connect(lambda text, k=key: panel.change_arg(task_id, k, text))
            describe(edit, f"Task {task.id} {key}", f"{modality}: a file name, text, or <resource>-N for "
                     "the output of task N")
            self.arg_edits[key] = edit
            form.addRow(key, edit)
        self.model_box = QComboBox()
        self.model_box.addItem(AUTO, "")
        for model_id in draft.models_for(task_id):
            self.model_box.addItem(model_id, model_id)
        pinned = draft.models.get(task_id)
        if pinned:
            index = self.model_box.findData(pinned)
            if index < 0:
                self.model_box.addItem(pinned, pinned)
                index = self.model_box.count() - 1
            self.model_box.setCurrentIndex(index)
        describe(self.model_box, f"Task {task.id} model", "let hgpt choose, or pin an installed model")
        self.model_box.currentIndexChanged.connect(
            lambda i: panel.change_model(task_id, self.model_box.itemData(i)))
        form.addRow("model", self.model_box)
        delete = QToolButton(text="Delete task", toolTip="Remove this task; later tasks are renumbered")
        describe(delete, f"Delete task {task.id}")
        delete.clicked.connect(lambda: panel.delete_task(task_id))
        form.addRow("", delete)


class ReviewPanel(QFrame):
    approved = Signal(object)  # ReviewedPlan
    declined = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.StyledPanel)
        self.draft: PlanDraft | None = None
        self.title = QLabel("<b>Review the plan</b> — change tasks, arguments or models, then Run.")
        self.title.setWordWrap(True)
        self.editors_box = QVBoxLayout()
        self.editors_box.addStretch(1)  # task boxes keep their height; the rest stays empty
        inner = QWidget()
        inner.setLayout(self.editors_box)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(inner)
        describe(scroll, "Tasks of the plan")
        self.scroll = scroll
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {STATUS_COLOURS['error']}")
        self.run_button = QPushButton("Run", toolTip="Run the plan as shown (Ctrl+R)")
        describe(self.run_button, "Run the plan")
        self.run_button.clicked.connect(self.approve)
        self.cancel_button = QPushButton("Cancel run", toolTip="Stop the run without running the plan (Esc)")
        self.cancel_button.clicked.connect(self.decline)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.run_button)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(scroll, 1)
        box.addWidget(self.problems)
        box.addLayout(buttons)
        self.editors: list[TaskEditor] = []

    def start(self, draft: PlanDraft, engine_problems=()) -> None:
        self.draft = draft
        self.engine_problems = list(engine_problems)
        self.rebuild()
        self.show()

    def rebuild(self) -> None:
        for editor in self.editors:
            self.editors_box.removeWidget(editor)
            editor.hide()
            editor.deleteLater()
        self.editors = [TaskEditor(self, t.id) for t in self.draft.tasks]
        for i, editor in enumerate(self.editors):
            self.editors_box.insertWidget(i, editor)
        self.update_problems()
        self.order_tabs()

    def order_tabs(self) -> None:
        """Tab goes through the task editors top to bottom, then Cancel run and Run."""
        chain = [self.scroll] + [w for e in self.editors for w in e.findChildren(QWidget)
                                 if w.focusPolicy() & Qt.TabFocus and w.window() is self.window()]
        chain += [self.cancel_button, self.run_button]
        for a, b in zip(chain, chain[1:]):
            QWidget.setTabOrder(a, b)

    def update_problems(self) -> None:
        problems = self.draft.problems() if self.draft else []
        shown = problems or ([] if self.draft.tasks else ["no tasks left: Run answers without models"])
        if self.engine_problems and not self.draft.edited:
            shown = self.engine_problems + shown
        self.problems.setText("\n".join(f"• {p}" for p in shown))
        self.problems.setStyleSheet(f"color: {STATUS_COLOURS['error' if problems else 'info']}")
        self.run_button.setEnabled(not problems)

    # -- edits (each updates the draft, then the problems) ----------------------------
    def change_task(self, task_id: int, name: str) -> None:
        self.draft.set_task(task_id, name)
        self.rebuild()

    def change_arg(self, task_id: int, key: str, value: str) -> None:
        self.draft.set_arg(task_id, key, value)
        self.update_problems()

    def change_model(self, task_id: int, model_id: str) -> None:
        self.draft.set_model(task_id, model_id or None)
        self.update_problems()

    def delete_task(self, task_id: int) -> None:
        self.draft.delete(task_id)
        self.rebuild()

    def approve(self) -> None:
        if self.draft is not None and not self.draft.problems():
            result: ReviewedPlan = self.draft.result()
            self.draft = None
            self.hide()
            self.approved.emit(result)

    def decline(self) -> None:
        self.draft = None
        self.hide()
        self.declined.emit()
