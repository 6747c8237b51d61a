"""Themes and text size: light, dark and high contrast, following the system by default.

``Appearance`` holds the chosen theme (``system``, ``light``, ``dark`` or
``high-contrast``) and text size (a percentage of the system's font), keeps them in
the window's ``QSettings`` and applies them to the whole application: a palette,
a small style sheet for high contrast (thick yellow focus frames, white borders), and
the application font scaled, with the widgets marked by ``qt_a11y.relative_font``
re-scaled too. With ``system`` it follows the platform's colour scheme and contrast
preference (``QStyleHints``), live: a change there re-applies at once.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from .qt_a11y import FONT_FACTOR, apply_relative_font

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark", "high-contrast": "High contrast"}
SCALES = (75, 90, 100, 110, 125, 150, 175, 200)

R = QPalette.ColorRole
_LIGHT = {R.Window: "#f0f0f0", R.WindowText: "#1a1a1a", R.Base: "#ffffff", R.AlternateBase: "#f4f6f9",
          R.ToolTipBase: "#ffffe1", R.ToolTipText: "#1a1a1a", R.PlaceholderText: "#5f6368",
          R.Text: "#1a1a1a", R.Button: "#f0f0f0", R.ButtonText: "#1a1a1a", R.BrightText: "#ffffff",
          R.Highlight: "#2a6fd6", R.HighlightedText: "#ffffff", R.Link: "#0b57d0", R.LinkVisited: "#6b3fa0",
          R.Light: "#ffffff", R.Midlight: "#e3e3e3", R.Mid: "#a0a0a0", R.Dark: "#8a8a8a", R.Shadow: "#5a5a5a",
          R.Accent: "#2a6fd6"}
_DARK = {R.Window: "#2b2d30", R.WindowText: "#e8eaed", R.Base: "#1e1f22", R.AlternateBase: "#313338",
         R.ToolTipBase: "#3c3f41", R.ToolTipText: "#f0f0f0", R.PlaceholderText: "#a8abb0",
         R.Text: "#e8eaed", R.Button: "#3a3d41", R.ButtonText: "#e8eaed", R.BrightText: "#ffffff",
         R.Highlight: "#3d7be0", R.HighlightedText: "#ffffff", R.Link: "#8ab4f8", R.LinkVisited: "#c58af9",
         R.Light: "#55585d", R.Midlight: "#45484d", R.Mid: "#6b6f75", R.Dark: "#18191b", R.Shadow: "#000000",
         R.Accent: "#3d7be0"}
_HIGH = {R.Window: "#000000", R.WindowText: "#ffffff", R.Base: "#000000", R.AlternateBase: "#141414",
         R.ToolTipBase: "#000000", R.ToolTipText: "#ffffff", R.PlaceholderText: "#d0d0d0",
         R.Text: "#ffffff", R.Button: "#000000", R.ButtonText: "#ffffff", R.BrightText: "#ffff00",
         R.Highlight: "#ffff00", R.HighlightedText: "#000000", R.Link: "#00ffff", R.LinkVisited: "#ff80ff",
         R.Light: "#ffffff", R.Midlight: "#ffffff", R.Mid: "#ffffff", R.Dark: "#ffffff", R.Shadow: "#ffffff",
         R.Accent: "#ffff00"}
_DISABLED = {"light": "#8c8c8c", "dark": "#80848a", "high-contrast": "#b0b0b0"}
COLOURS = {"light": _LIGHT, "dark": _DARK, "high-contrast": _HIGH}

HIGH_CONTRAST_SHEET = """
QPushButton, QToolButton, QComboBox, QLineEdit, QPlainTextEdit, QTextEdit, QSpinBox, QListView,
QTreeView, QTableView, QAbstractScrollArea, QTabBar::tab, QGroupBox, QCheckBox::indicator, QRadioButton::indicator {
    border: 1px solid #ffffff;
}
QPushButton, QToolButton { padding: 3px 8px; }
QPushButton:focus, QToolButton:focus, QComboBox:focus, QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus,
QListView:focus, QTableView:focus, QAbstractScrollArea:focus, QTabBar::tab:focus, QCheckBox:focus,
QSlider:focus, QGraphicsView:focus {
    border: 3px solid #ffff00;
}
QTabBar::tab:selected { background: #ffff00; color: #000000; }
QPushButton:disabled, QToolButton:disabled { border: 1px dashed #b0b0b0; }
"""


def palette(theme: str) -> QPalette:
    """The palette of ``light``, ``dark`` or ``high-contrast``."""
    pal = QPalette()
    for role, colour in COLOURS[theme].items():
        pal.setColor(role, QColor(colour))
    for role in (R.Text, R.WindowText, R.ButtonText, R.PlaceholderText):
        pal.setColor(QPalette.Disabled, role, QColor(_DISABLED[theme]))
    pal.setColor(QPalette.Disabled, R.Highlight, QColor(COLOURS[theme][R.Mid]))
    return pal


def system_theme(scheme=None, contrast=None) -> str:
    """The theme the platform asks for (or the given colour scheme and contrast
    preference): high contrast, dark, or light."""
    hints = QGuiApplication.styleHints()
    access = getattr(hints, "accessibility", None)
    if contrast is None and access is not None:
        contrast = access().contrastPreference()
    if contrast == Qt.ContrastPreference.HighContrast:
        return "high-contrast"
    scheme = hints.colorScheme() if scheme is None else scheme
    return "dark" if scheme == Qt.ColorScheme.Dark else "light"


class Appearance(QObject):
    """The theme and text size of the window, kept in ``QSettings`` under ``appearance/``."""

    changed = Signal()

    def __init__(self, qsettings: QSettings | None = None, parent=None):
        super().__init__(parent)
        self.qsettings = qsettings
        app = QApplication.instance()
        self.base_font = QFont(app.property("hgpt_base_font") or app.font())
        app.setProperty("hgpt_base_font", self.base_font)  # the system's size, before any scaling
        self.theme = str(qsettings.value("appearance/theme", "system")) if qsettings else "system"
        if self.theme not in THEMES:
            self.theme = "system"
        try:
            self.scale = int(qsettings.value("appearance/text_size", 100)) if qsettings else 100
        except (TypeError, ValueError):
            self.scale = 100
        self.scale = min(max(self.scale, SCALES[0]), SCALES[-1])
        hints = QGuiApplication.styleHints()
        self.scheme = hints.colorScheme()
        access = getattr(hints, "accessibility", None)
        self.contrast = access().contrastPreference() if access is not None else None
        hints.colorSchemeChanged.connect(self._scheme_changed)
        if access is not None:
            access().contrastPreferenceChanged.connect(self._contrast_changed)

    @property
    def effective(self) -> str:
        return system_theme(self.scheme, self.contrast) if self.theme == "system" else self.theme

    def set_theme(self, theme: str) -> None:
        if theme not in THEMES:
            raise ValueError(f"unknown theme {theme!r}; one of {', '.join(THEMES)}")
        self.theme = theme
        self._save("appearance/theme", theme)
        self.apply()

    def set_scale(self, percent: int) -> None:
        self.scale = min(max(int(percent), SCALES[0]), SCALES[-1])
        self._save("appearance/text_size", self.scale)
        self.apply()

    def bigger(self) -> None:
        self.set_scale(next((s for s in SCALES if s > self.scale), SCALES[-1]))

    def smaller(self) -> None:
        self.set_scale(next((s for s in reversed(SCALES) if s < self.scale), SCALES[0]))

    def _save(self, key: str, value) -> None:
        if self.qsettings is not None:
            self.qsettings.setValue(key, value)
            self.qsettings.sync()

    def _scheme_changed(self, scheme) -> None:
        self.scheme = scheme
        if self.theme == "system":
            self.apply()

    def _contrast_changed(self, contrast) -> None:
        self.contrast = contrast
        if self.theme == "system":
            self.apply()

    def font(self) -> QFont:
        font = QFont(self.base_font)
        if font.pointSizeF() > 0:
            font.setPointSizeF(self.base_font.pointSizeF() * self.scale / 100)
        else:
            font.setPixelSize(max(1, round(self.base_font.pixelSize() * self.scale / 100)))
        return font

    def apply(self) -> None:
        app = QApplication.instance()
        theme = self.effective
        app.setPalette(palette(theme))
        sheet = HIGH_CONTRAST_SHEET if theme == "high-contrast" else ""
        if app.styleSheet() != sheet:
            app.setStyleSheet(sheet)
        app.setFont(self.font())
        for widget in app.allWidgets():
            if widget.property(FONT_FACTOR) is not None:
                apply_relative_font(widget)
        self.changed.emit()
