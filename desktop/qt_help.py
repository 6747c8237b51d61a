"""Help → Keyboard shortcuts: every action of the menus with its keys, and the keys
that work inside a view (lists, the plan graph, the audio slider).

The list is read from the window's menus when the dialog opens, so an action added
to a menu is listed without anyone remembering to; ``IN_VIEWS`` holds the keys that
belong to a widget rather than a menu action.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel, QMenuBar, QTableWidget, QTableWidgetItem,
    QVBoxLayout,
)

from .qt_a11y import describe

IN_VIEWS = (
    ("Tab / Shift+Tab", "Move to the next / previous control", "everywhere"),
    ("Alt+letter, F10", "Open a menu", "everywhere"),
    ("Enter", "Open the selected chat", "chats list"),
    ("F2", "Rename the selected chat", "chats list"),
    ("Delete (twice)", "Delete the selected chat", "chats list"),
    ("Arrow keys, Home, End", "Move between tasks and show the models considered", "plan graph"),
    ("Space", "Play or stop a recording; turn a box or mask on or off", "chat results"),
    ("Left / Right, Page Up / Page Down", "Move the playing position by 1 s / 5 s", "audio position slider"),
    ("Shift+F10 or the Menu key", "Copy from a text (context menu)", "chat messages"),
)


def menu_shortcuts(menubar: QMenuBar) -> list[tuple[str, str, str]]:
    """(keys, action, menu) for every action in the menus, submenus included."""
    rows = []

    def walk(menu, path):
        for action in menu.actions():
            if action.isSeparator():
                continue
            if action.menu() is not None:
                walk(action.menu(), f"{path} → {action.text().replace('&', '')}")
                continue
            keys = ", ".join(k.toString(QKeySequence.NativeText) for k in action.shortcuts())
            rows.append((keys or "(menu only)", action.text().replace("&", "").rstrip("…"), path))

    for top in menubar.actions():
        if top.menu() is not None:
            walk(top.menu(), top.text().replace("&", ""))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, menubar: QMenuBar, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = menu_shortcuts(menubar) + list(IN_VIEWS)
        self.table = QTableWidget(len(self.rows), 3)
        describe(self.table, "Keyboard shortcuts", "keys, what they do, and where")
        self.table.setHorizontalHeaderLabels(["Keys", "Action", "Where"])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.verticalHeader().hide()
        for r, row in enumerate(self.rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.Close).clicked.connect(self.reject)
        box = QVBoxLayout(self)
        note = QLabel("Every action is in a menu (Alt or F10 opens the menu bar); these keys reach them directly.")
        note.setWordWrap(True)
        box.addWidget(note)
        box.addWidget(self.table, 1)
        box.addWidget(buttons)
        self.resize(720, 560)
        self.table.setFocus(Qt.OtherFocusReason)
