"""The conversations list: search, new, rename (double-click or F2), delete (the Delete key).

A view over ``engine.history.HistoryStore``: it lists conversations newest first,
filters them by title and message text as you type, and emits ``selected`` with
a conversation id. Rename edits the item in place; delete asks inline (the
button turns into "Really delete?") rather than in a modal dialog.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout,
    QWidget,
)

from engine import HgptError

from .qt_a11y import describe


def _when(ts: float) -> str:
    if time.strftime("%Y-%m-%d", time.localtime(ts)) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", time.localtime(ts))
    return time.strftime("%d %b", time.localtime(ts))


class ConversationList(QWidget):
    selected = Signal(object)  # conversation id, or None when the list is empty
    new_requested = Signal()
    failed = Signal(str)

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.search = QLineEdit(placeholderText="Search chats…", clearButtonEnabled=True)
        self.list = QListWidget()
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.ElideRight)
        self.list.setUniformItemSizes(True)
        self.list.setEditTriggers(QAbstractItemView.EditKeyPressed | QAbstractItemView.DoubleClicked)
        self.new_button = QPushButton("New chat", toolTip="Start a new conversation (Ctrl+N)")
        self.rename_button = QPushButton("Rename", toolTip="Rename the selected chat (F2)")
        self.delete_button = QPushButton("Delete", toolTip="Delete the selected chat and its history "
                                         "(Delete, twice)")
        describe(self.search, "Search chats", "shows only the chats whose title or messages contain these words")
        describe(self.list, "Chats", "the conversations, newest first: Enter or a click opens one, F2 renames "
                 "it, Delete deletes it (press twice)")
        buttons = QHBoxLayout()
        for b in (self.rename_button, self.delete_button):
            buttons.addWidget(b)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.new_button)
        box.addWidget(self.search)
        box.addWidget(self.list, 1)
        box.addLayout(buttons)
        self._confirm = QTimer(self, singleShot=True, interval=4000)
        self._confirm.timeout.connect(self._reset_delete)
        self._filter = QTimer(self, singleShot=True, interval=200)
        self._filter.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _: self._filter.start())
        self.new_button.clicked.connect(self.new_requested)
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_item_changed)
        QShortcut(QKeySequence(Qt.Key_F2), self.list, activated=self.rename_selected)
        QShortcut(QKeySequence(Qt.Key_Delete), self.list, activated=self.delete_selected,
                  context=Qt.WidgetShortcut)
        self._loading = False
        self.reload()

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item else None

    def reload(self, select: int | None = None) -> None:
        keep = select if select is not None else self.current_id()
        self._loading = True
        self.list.clear()
        for conv in self.store.conversations(self.search.text()):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.UserRole, conv.id)
            item.setToolTip(f"{conv.title}\nlast message {_when(conv.updated_at)}")
            item.setFlags(item.flags() | Qt.ItemIsEditable)
            self.list.addItem(item)
            if conv.id == keep:
                self.list.setCurrentItem(item)
        self._loading = False

    def _on_current(self, current, previous) -> None:
        if not self._loading:
            self.selected.emit(current.data(Qt.UserRole) if current else None)
        self._reset_delete()

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._loading:
            return
        try:
            self.store.rename(item.data(Qt.UserRole), item.text())
        except HgptError as exc:
            self.failed.emit(str(exc))
        self.reload()

    def rename_selected(self) -> None:
        item = self.list.currentItem()
        if item:
            self.list.editItem(item)

    def delete_selected(self) -> None:
        cid = self.current_id()
        if cid is None:
            return
        if not self._confirm.isActive():
            self.delete_button.setText("Really delete?")
            self._confirm.start()
            return
        self._reset_delete()
        self.store.delete(cid)
        row = self.list.currentRow()
        self.reload(select=-1)
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))
        else:
            self.selected.emit(None)

    def _reset_delete(self) -> None:
        self._confirm.stop()
        self.delete_button.setText("Delete")
