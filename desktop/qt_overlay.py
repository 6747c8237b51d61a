"""Detection and segmentation results drawn from their data, over the original picture.

``OverlayView`` shows an ``engine.views.overlay.Overlay``: the picture the expert
looked at, its boxes (outlined, labelled) and masks (tinted), each in its own
colour. Check boxes turn all boxes or all masks on and off, and a list turns single
ones on and off (Space toggles the selected row; the selected one is outlined
thicker). Hovering over the picture shows the label and score under the pointer;
"Expert's picture" swaps in the image the expert drew itself. For screen readers
the picture's description says what is drawn ("2 boxes: cat (91%); dog (88%)").
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QHBoxLayout, QListWidget, QListWidgetItem, QToolTip, QVBoxLayout, QWidget,
)

from .qt_a11y import describe
from .qt_media import pixmap

COLOURS = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#fabed4", "#469990", "#9a6324")
MAX_SIDE = 420


def colour_for(label: str, labels: list[str]) -> QColor:
    return QColor(COLOURS[labels.index(label) % len(COLOURS)] if label in labels else COLOURS[0])


class OverlayCanvas(QWidget):
    """The picture with its boxes and masks; ``hovered`` names the item under the pointer."""

    hovered = Signal(str)

    def __init__(self, overlay, parent=None):
        super().__init__(parent)
        self.overlay = overlay
        reader = QImageReader(overlay.image)
        self.source_size = reader.size()
        self.picture = pixmap(overlay.image, MAX_SIDE)
        self.drawn = pixmap(overlay.drawn, MAX_SIDE) if overlay.drawn else None
        self.scale = (self.picture.width() / self.source_size.width()
                      if self.source_size.isValid() and self.source_size.width() else 1.0)
        self.labels = list(dict.fromkeys([b.label for b in overlay.boxes] + [m.label for m in overlay.masks]))
        self.show_boxes = self.show_masks = True
        self.show_drawn = False
        self.hidden: set[tuple[str, int]] = set()  # ("box" | "mask", index) turned off one by one
        self.focused: tuple[str, int] | None = None
        self.mask_images = [self._mask_image(m) for m in overlay.masks]
        self.setFixedSize(self.picture.size() if not self.picture.isNull() else QSize(200, 120))
        self.setMouseTracking(True)

    def _mask_image(self, mask) -> QImage | None:
        """The mask as a tinted, see-through image of the picture's drawn size."""
        grey = QImage(mask.path)
        if grey.isNull():
            return None
        grey = grey.convertToFormat(QImage.Format_Grayscale8).scaled(self.picture.size(), Qt.IgnoreAspectRatio,
                                                                       Qt.SmoothTransformation)
        tint = QImage(grey.size(), QImage.Format_ARGB32_Premultiplied)
        tint.fill(colour_for(mask.label, self.labels))
        tint.setAlphaChannel(grey)
        return tint

    def box_rect(self, box) -> QRectF:
        s = self.scale
        return QRectF(box.x0 * s, box.y0 * s, (box.x1 - box.x0) * s, (box.y1 - box.y0) * s)

    def visible(self, kind: str, index: int) -> bool:
        on = self.show_boxes if kind == "box" else self.show_masks
        return on and not self.show_drawn and (kind, index) not in self.hidden

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        if self.show_drawn and self.drawn is not None and not self.drawn.isNull():
            painter.drawPixmap(0, 0, self.drawn)
            return
        if not self.picture.isNull():
            painter.drawPixmap(0, 0, self.picture)
        for i, image in enumerate(self.mask_images):
            if image is not None and self.visible("mask", i):
                painter.setOpacity(0.6 if self.focused == ("mask", i) else 0.45)
                painter.drawImage(0, 0, image)
        painter.setOpacity(1.0)
        metrics = painter.fontMetrics()
        for i, box in enumerate(self.overlay.boxes):
            if not self.visible("box", i):
                continue
            colour = colour_for(box.label, self.labels)
            rect = self.box_rect(box)
            painter.setPen(QPen(colour, 4 if self.focused == ("box", i) else 2))
            painter.setBrush(Qt.NoBrush)
            painter.drawRect(rect)
            tag = box.words()
            tag_rect = QRectF(rect.x(), max(0.0, rect.y() - metrics.height()), metrics.horizontalAdvance(tag) + 6,
                              metrics.height())
            painter.fillRect(tag_rect, colour)
            painter.setPen(QColor("#000000") if colour.lightness() > 140 else QColor("#ffffff"))
            painter.drawText(tag_rect.adjusted(3, 0, 0, 0), Qt.AlignVCenter | Qt.AlignLeft, tag)

    def item_at(self, point: QPointF) -> tuple[str, int] | None:
        """The box (smallest first) or mask under ``point``."""
        boxes = [(self.box_rect(b).width() * self.box_rect(b).height(), i)
                 for i, b in enumerate(self.overlay.boxes)
                 if self.visible("box", i) and self.box_rect(b).contains(point)]
        if boxes:
            return "box", min(boxes)[1]
        x, y = int(point.x()), int(point.y())
        for i, image in reversed(list(enumerate(self.mask_images))):
            if image is not None and self.visible("mask", i) and image.valid(x, y) and image.pixelColor(x, y).alpha() > 127:
                return "mask", i
        return None

    def words(self, item: tuple[str, int]) -> str:
        kind, i = item
        return (self.overlay.boxes[i] if kind == "box" else self.overlay.masks[i]).words()

    def mouseMoveEvent(self, event) -> None:
        item = self.item_at(event.position())
        text = self.words(item) if item else ""
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        else:
            QToolTip.hideText()
        self.hovered.emit(text)


class OverlayView(QWidget):
    def __init__(self, overlay, description: str = "", parent=None):
        super().__init__(parent)
        self.overlay = overlay
        self.canvas = OverlayCanvas(overlay)
        name = Path(overlay.image).name
        describe(self.canvas, f"Picture {name} with the results drawn over it",
                 (description + ". " if description else "") + overlay.summary())
        self.boxes = QCheckBox(f"Boxes ({len(overlay.boxes)})", checked=True)
        self.masks = QCheckBox(f"Masks ({len(overlay.masks)})", checked=True)
        self.drawn = QCheckBox("Expert's picture")
        describe(self.boxes, "Show boxes", "draw the boxes the expert found over the picture")
        describe(self.masks, "Show masks", "tint the regions the expert found over the picture")
        describe(self.drawn, "Show the expert's own picture", "instead of the boxes and masks drawn here")
        self.boxes.setVisible(bool(overlay.boxes))
        self.masks.setVisible(bool(overlay.masks))
        self.drawn.setVisible(bool(overlay.drawn))
        self.boxes.toggled.connect(self._toggle_boxes)
        self.masks.toggled.connect(self._toggle_masks)
        self.drawn.toggled.connect(self._toggle_drawn)
        self.items = QListWidget()
        describe(self.items, f"What was found in {name}",
                 "one row per box or mask; Space turns the selected one on or off")
        self.items.setSelectionMode(QAbstractItemView.SingleSelection)
        self._keys: list[tuple[str, int]] = []
        for kind, things in (("box", overlay.boxes), ("mask", overlay.masks)):
            for i, thing in enumerate(things):
                item = QListWidgetItem(("▭ " if kind == "box" else "▒ ") + thing.words())
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                item.setCheckState(Qt.Checked)
                item.setForeground(colour_for(thing.label, self.canvas.labels))
                item.setData(Qt.AccessibleTextRole, f"{'box' if kind == 'box' else 'mask'}: {thing.words()}")
                self.items.addItem(item)
                self._keys.append((kind, i))
        self.items.setVisible(bool(self._keys))
        rows = min(len(self._keys), 6)
        self.items.setMaximumHeight(self.items.sizeHintForRow(0) * rows + 8 if rows else 0)
        self.items.itemChanged.connect(self._item_changed)
        self.items.currentRowChanged.connect(self._current)
        toggles = QHBoxLayout()
        toggles.setContentsMargins(0, 0, 0, 0)
        for w in (self.boxes, self.masks, self.drawn):
            toggles.addWidget(w)
        toggles.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 2, 0, 2)
        box.addLayout(toggles)
        box.addWidget(self.canvas)
        box.addWidget(self.items)

    def _toggle_boxes(self, on: bool) -> None:
        self.canvas.show_boxes = on
        self.canvas.update()

    def _toggle_masks(self, on: bool) -> None:
        self.canvas.show_masks = on
        self.canvas.update()

    def _toggle_drawn(self, on: bool) -> None:
        self.canvas.show_drawn = on
        self.canvas.update()

    def _item_changed(self, item: QListWidgetItem) -> None:
        key = self._keys[self.items.row(item)]
        if item.checkState() == Qt.Checked:
            self.canvas.hidden.discard(key)
        else:
            self.canvas.hidden.add(key)
        self.canvas.update()

    def _current(self, row: int) -> None:
        self.canvas.focused = self._keys[row] if 0 <= row < len(self._keys) else None
        self.canvas.update()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.canvas.update()
