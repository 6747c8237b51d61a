"""Accessibility helpers: names and descriptions, announcements, relative fonts.

``describe(widget, name, description)`` gives a control the accessible name a
screen reader reads (and the description it reads after, where the purpose is not
obvious from the name). ``announce(source, text)`` raises Qt's accessibility
announcement event (``QAccessibleAnnouncementEvent``, read out by screen readers
without moving the focus) — the window uses it when an answer completes and when a
task's status changes — and repeats it on ``announcer().said`` so the window can
keep the last ones. ``relative_font(widget, factor, bold)`` marks a widget whose
font is a share of the window's, so a text-size change scales it too
(``desktop.qt_theme``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import QApplication, QWidget

FONT_FACTOR = "hgpt_font_factor"
FONT_BOLD = "hgpt_font_bold"
ANNOUNCE_CHARS = 1500  # a screen reader reads an announcement whole; very long answers are cut


def describe(widget: QWidget, name: str, description: str = "") -> QWidget:
    widget.setAccessibleName(name)
    if description:
        widget.setAccessibleDescription(description)
    return widget


class Announcer(QObject):
    said = Signal(str)

    def __init__(self):
        super().__init__()
        self.history: list[str] = []


_announcer: Announcer | None = None


def announcer() -> Announcer:
    global _announcer
    if _announcer is None:
        _announcer = Announcer()
    return _announcer


def announce(source: QObject, text: str, assertive: bool = False) -> None:
    """Ask assistive technology to read ``text`` now (politely: after what it is reading)."""
    text = " ".join(str(text).split())
    if not text:
        return
    if len(text) > ANNOUNCE_CHARS:
        text = text[:ANNOUNCE_CHARS].rsplit(" ", 1)[0] + "…"
    event = QAccessibleAnnouncementEvent(source, text)
    event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive if assertive
                        else QAccessible.AnnouncementPoliteness.Polite)
    QAccessible.updateAccessibility(event)
    bus = announcer()
    bus.history = (bus.history + [text])[-20:]
    bus.said.emit(text)


def relative_font(widget: QWidget, factor: float = 1.0, bold: bool | None = None) -> QWidget:
    """Give ``widget`` the window's font times ``factor`` (and bold or not), now and
    after every text-size change."""
    widget.setProperty(FONT_FACTOR, float(factor))
    if bold is not None:
        widget.setProperty(FONT_BOLD, bool(bold))
    apply_relative_font(widget)
    return widget


def apply_relative_font(widget: QWidget) -> None:
    factor = widget.property(FONT_FACTOR)
    if factor is None:
        return
    font = QApplication.font()
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * float(factor))
    else:
        font.setPixelSize(max(1, round(font.pixelSize() * float(factor))))
    bold = widget.property(FONT_BOLD)
    if bold is not None:
        font.setBold(bool(bold))
    widget.setFont(font)


def name_unnamed(root: QWidget) -> list[QWidget]:
    """Give each control under ``root`` that has no accessible name in words one from what
    sighted people read beside it: its form label (with the spin box's prefix or suffix),
    else its placeholder, else its tooltip. A safety net for controls added without
    ``describe``; returns the ones it named."""
    from PySide6.QtWidgets import QAbstractSpinBox, QFormLayout, QLineEdit

    named = []
    for w in root.findChildren(QWidget):
        if w.focusPolicy() == Qt.NoFocus or w.accessibleName() or _has_words(_qt_name(w)):
            continue
        if isinstance(w.parentWidget(), QAbstractSpinBox) or w.objectName().startswith("qt_"):
            continue
        label = _form_label(w, QFormLayout)
        extra = ""
        if isinstance(w, QAbstractSpinBox):
            extra = (w.prefix() + w.suffix()).strip() if hasattr(w, "prefix") else ""
        elif isinstance(w, QLineEdit):
            extra = w.placeholderText()
        name = " ".join(p for p in (label, extra) if p) or w.toolTip()
        if _has_words(name):
            w.setAccessibleName(name)
            named.append(w)
    return named


def _has_words(text: str) -> bool:
    return any(c.isalpha() for c in text or "")


def _qt_name(w: QWidget) -> str:
    iface = QAccessible.queryAccessibleInterface(w)
    return iface.text(QAccessible.Text.Name) if iface is not None else ""


def _form_label(w: QWidget, form_type) -> str:
    """The text of the form row label ``w`` (or a widget holding it) is the field of."""
    child = w
    while child is not None and child.parentWidget() is not None:
        layout = child.parentWidget().layout()
        if isinstance(layout, form_type):
            label = layout.labelForField(child)
            if label is not None and hasattr(label, "text"):
                return label.text().replace("&", "").strip()
        child = child.parentWidget()
    return ""
