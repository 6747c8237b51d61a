"""Showing files in the window: thumbnails, images, audio with play/stop, open/reveal.

Images are read with ``QImageReader`` at thumbnail size (a large photo is never
decoded whole for a 96-pixel chip). Audio plays through QtMultimedia when the
installed PySide6 has it (PySide6-Essentials does not); otherwise through the
first command-line player found (``pw-play``, ``paplay``, ``aplay``, ``ffplay``,
``afplay``) as a child process that Stop ends; with neither, the Play button opens
the file in the system's player. Every file widget can open the file or reveal it
in its folder.

An audio file shows its waveform (``engine.waveform``) with a position slider: the
slider follows playback, and moving it (by mouse, or the arrow keys: a second a
step) plays from there — a command-line player is handed the rest of the recording
from that point (``engine.audio_tail``). A picture carries the text result of the
task that made it as its accessible description.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImageReader, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget,
)

from engine import audio_tail, clip, waveform

from .qt_a11y import describe, relative_font

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a"}
PLAYERS = (["pw-play"], ["paplay"], ["aplay", "-q"], ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"],
           ["afplay"])


def kind_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    return "file"


def pixmap(path: str | Path, max_side: int) -> QPixmap:
    """The image scaled to fit ``max_side`` (decoded at that size); null if unreadable."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > max_side:
        reader.setScaledSize(size.scaled(QSize(max_side, max_side), Qt.KeepAspectRatio))
    image = reader.read()
    return QPixmap.fromImage(image) if not image.isNull() else QPixmap()


def open_file(path: str | Path) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


def reveal_file(path: str | Path) -> bool:
    """Show the file in its folder (selected where the platform can)."""
    path = Path(path)
    if sys.platform == "darwin":
        return subprocess.Popen(["open", "-R", str(path)]).pid > 0
    if sys.platform.startswith("win"):
        return subprocess.Popen(["explorer", "/select,", str(path)]).pid > 0
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def _qt_multimedia():
    try:
        from PySide6 import QtMultimedia  # noqa: F401  (PySide6-Addons only)
    except ImportError:
        return None
    return QtMultimedia


class AudioPlayer(QObject):
    """Plays one file at a time, from a position; ``state`` says playing or stopped,
    ``position`` (file, seconds) moves while it plays."""

    state = Signal(bool)
    position = Signal(str, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.current: str = ""  # the file playing
        self._from, self._t0 = 0.0, 0.0
        self._proc: subprocess.Popen | None = None
        self._qt = None
        mm = _qt_multimedia()
        if mm is not None:
            self._qt = mm.QMediaPlayer(self)
            self._qt.setAudioOutput(mm.QAudioOutput(self._qt))
            self._qt.playbackStateChanged.connect(
                lambda s: self.state.emit(s == mm.QMediaPlayer.PlaybackState.PlayingState))
        self.command = None if self._qt else next((p for p in PLAYERS if shutil.which(p[0])), None)
        self._poll = QTimer(self, interval=100)
        self._poll.timeout.connect(self._check_ended)

    def _check_ended(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
            self._poll.stop()
            self.state.emit(False)
            return
        if self.current:
            self.position.emit(self.current, self._from + time.monotonic() - self._t0)

    @property
    def backend(self) -> str:
        if self._qt is not None:
            return "QtMultimedia"
        return self.command[0] if self.command else "system player"

    @property
    def can_stop(self) -> bool:
        return self._qt is not None or self.command is not None

    def play(self, path: str | Path, start: float = 0.0) -> None:
        """Play ``path`` from ``start`` seconds."""
        self.stop()
        self.current, self._from, self._t0 = str(path), max(0.0, start), time.monotonic()
        if self._qt is not None:
            self._qt.setSource(QUrl.fromLocalFile(str(path)))
            self._qt.setPosition(int(self._from * 1000))
            self._qt.play()
            self._poll.start()
        elif self.command:
            source = audio_tail(path, self._from) if self._from > 0 else Path(path)
            self._proc = subprocess.Popen([*self.command, str(source)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
            self._poll.start()
            self.state.emit(True)
        else:
            self.current = ""
            open_file(path)

    def playing(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return False

    def stop(self) -> None:
        if self._qt is not None:
            self._qt.stop()
        self._poll.stop()
        self.current = ""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(2)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
            self._proc = None
            self.state.emit(False)


_player: AudioPlayer | None = None


def player() -> AudioPlayer:
    global _player
    if _player is None:
        _player = AudioPlayer()
    return _player


def _tool(text: str, tip: str, slot, name: str = "") -> QToolButton:
    button = QToolButton(text=text, toolTip=tip, autoRaise=True)
    button.clicked.connect(slot)
    if name:
        describe(button, name)
    return button


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class WaveformView(QWidget):
    """A recording's peaks as bars, the played part in the highlight colour; a click
    asks to play from that point (``seek``, seconds)."""

    seek = Signal(float)

    def __init__(self, peaks: list[float], seconds: float, parent=None):
        super().__init__(parent)
        self.peaks, self.seconds, self.at = peaks, seconds, 0.0
        self.setMinimumSize(160, 36)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setCursor(Qt.PointingHandCursor)

    def sizeHint(self) -> QSize:
        return QSize(320, 40)

    def set_position(self, seconds: float) -> None:
        self.at = seconds
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        pal = self.palette()
        w, h = self.width(), self.height()
        n = max(1, len(self.peaks))
        played = self.at / self.seconds if self.seconds else 0.0
        step = w / n
        for i, peak in enumerate(self.peaks):
            colour = pal.color(QPalette.Highlight) if (i + 0.5) / n <= played else pal.color(QPalette.Mid)
            bar = max(1.0, peak * (h - 4))
            painter.fillRect(QRectF(i * step, (h - bar) / 2, max(1.0, step - 1), bar), colour)
        painter.setPen(pal.color(QPalette.Text))
        x = played * w
        painter.drawLine(QPointF(x, 0), QPointF(x, h))

    def mousePressEvent(self, event) -> None:
        if self.seconds and self.width():
            self.seek.emit(max(0.0, min(1.0, event.position().x() / self.width())) * self.seconds)


class FileWidget(QWidget):
    """One output or attached file: a preview for its kind, and open / reveal buttons.

    ``description`` (the text result of the task that made the file) is what a screen
    reader says after the picture's or recording's name."""

    def __init__(self, path: str | Path, max_side: int = 320, parent=None, description: str = "",
                 preview: bool = True):
        super().__init__(parent)
        self.path = Path(path)
        self.kind = kind_of(self.path)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 2, 0, 2)
        self.preview = None
        if self.kind == "image" and preview:
            self.preview = QLabel()
            pm = pixmap(self.path, max_side)
            self.preview.setPixmap(pm) if not pm.isNull() else self.preview.setText("(unreadable image)")
            self.preview.setToolTip(description or str(self.path))
            describe(self.preview, f"Picture {self.path.name}", description)
            box.addWidget(self.preview)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.wave = self.slider = None
        if self.kind == "audio":
            self.play_button = QPushButton("▶ Play")
            self.play_button.clicked.connect(self.toggle_play)
            self.play_button.setToolTip(f"Play with {player().backend}")
            describe(self.play_button, f"Play {self.path.name}", description)
            player().state.connect(self._on_state)
            player().position.connect(self._on_position)
            row.addWidget(self.play_button)
            self._audio_row(box, description)
        name = QLabel(self.path.name)
        name.setToolTip(str(self.path))
        name.setTextInteractionFlags(Qt.TextSelectableByMouse)
        row.addWidget(name)
        row.addWidget(_tool("Open", "Open with the system's default program", lambda: open_file(self.path),
                            f"Open {self.path.name}"))
        row.addWidget(_tool("Show in folder", "Reveal the file in its folder", lambda: reveal_file(self.path),
                            f"Show {self.path.name} in its folder"))
        row.addStretch(1)
        box.addLayout(row)

    def _audio_row(self, box: QVBoxLayout, description: str) -> None:
        """The waveform, and under it the position slider with the time."""
        try:
            shape = waveform(self.path, 240)
        except (ValueError, OSError):
            return  # not readable: Play still hands it to the player, which says why
        self.seconds = shape.seconds
        self.wave = WaveformView(shape.peaks, shape.seconds)
        describe(self.wave, f"Waveform of {self.path.name}", description)
        self.wave.seek.connect(self.play_from)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, max(1, int(shape.seconds * 10)))  # tenths of a second
        self.slider.setSingleStep(10)
        self.slider.setPageStep(50)
        describe(self.slider, f"Position in {self.path.name}",
                 "the arrow keys move a second, Page Up and Page Down five; playing goes on from there")
        self.slider.valueChanged.connect(self._on_slider)
        self.time = QLabel(f"0:00 / {clock(shape.seconds)}")
        self._following = False
        self._restart = QTimer(self, singleShot=True, interval=250)  # once the slider rests
        self._restart.timeout.connect(lambda: self.play_from(self.position()))
        box.addWidget(self.wave)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.time)
        box.addLayout(row)

    def position(self) -> float:
        return self.slider.value() / 10 if self.slider is not None else 0.0

    def _show_position(self, seconds: float) -> None:
        if self.slider is None:
            return
        self._following = True
        self.slider.setValue(int(seconds * 10))
        self._following = False
        self.wave.set_position(seconds)
        self.time.setText(f"{clock(seconds)} / {clock(self.seconds)}")

    def _on_slider(self, value: int) -> None:
        if self._following:
            return
        self._show_position(value / 10)
        if player().current == str(self.path):  # moved while playing: go on from there
            self._restart.start()

    def play_from(self, seconds: float) -> None:
        self._show_position(seconds)
        p = player()
        p.play(self.path, seconds)
        if p.can_stop:
            self.play_button.setText("■ Stop")

    def toggle_play(self) -> None:
        p = player()
        if self.play_button.text().startswith("■"):
            p.stop()
            self.play_button.setText("▶ Play")
            return
        start = self.position()
        if self.slider is not None and start >= self.seconds - 0.05:
            start = 0.0  # at the end: from the start again
        self.play_from(start)

    def _on_position(self, path: str, seconds: float) -> None:
        if path == str(self.path):
            self._show_position(min(seconds, getattr(self, "seconds", seconds)))

    def _on_state(self, playing: bool) -> None:
        if not playing:
            self.play_button.setText("▶ Play")


class Thumbnail(QWidget):
    """A small chip for an attachment: picture or note symbol, name, optional remove."""

    removed = Signal(str)

    def __init__(self, path: str | Path, removable: bool = False, side: int = 72, parent=None):
        super().__init__(parent)
        self.path = Path(path)
        box = QVBoxLayout(self)
        box.setContentsMargins(2, 2, 2, 2)
        box.setSpacing(1)
        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setFixedSize(side, side)
        pm = pixmap(self.path, side) if kind_of(self.path) == "image" else QPixmap()
        if not pm.isNull():
            self.picture.setPixmap(pm)
        else:
            self.picture.setText("♪" if kind_of(self.path) == "audio" else "📄")
            relative_font(self.picture, 2.0)
        self.picture.setToolTip(str(self.path))
        box.addWidget(self.picture)
        row = QHBoxLayout()
        label = QLabel(clip(self.path.name, 14))
        label.setToolTip(self.path.name)
        row.addWidget(label)
        if removable:
            row.addWidget(_tool("✕", "Remove this attachment", lambda: self.removed.emit(str(self.path)),
                                f"Remove attachment {self.path.name}"))
        box.addLayout(row)


