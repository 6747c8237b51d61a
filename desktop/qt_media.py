"""Showing files in the window: thumbnails, images, audio with play/stop, open/reveal.

Images are read with ``QImageReader`` at thumbnail size (a large photo is never
decoded whole for a 96-pixel chip). Audio plays through QtMultimedia when the
installed PySide6 has it (PySide6-Essentials does not); otherwise through the
first command-line player found (``pw-play``, ``paplay``, ``aplay``, ``ffplay``,
``afplay``) as a child process that Stop ends; with neither, the Play button opens
the file in the system's player. Every file widget can open the file or reveal it
in its folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QImageReader, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from engine import clip

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
    """Plays one file at a time; ``state`` says playing or stopped."""

    state = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._proc: subprocess.Popen | None = None
        self._qt = None
        mm = _qt_multimedia()
        if mm is not None:
            self._qt = mm.QMediaPlayer(self)
            self._qt.setAudioOutput(mm.QAudioOutput(self._qt))
            self._qt.playbackStateChanged.connect(
                lambda s: self.state.emit(s == mm.QMediaPlayer.PlaybackState.PlayingState))
        self.command = None if self._qt else next((p for p in PLAYERS if shutil.which(p[0])), None)
        self._poll = QTimer(self, interval=250)
        self._poll.timeout.connect(self._check_ended)

    def _check_ended(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
            self._poll.stop()
            self.state.emit(False)

    @property
    def backend(self) -> str:
        if self._qt is not None:
            return "QtMultimedia"
        return self.command[0] if self.command else "system player"

    @property
    def can_stop(self) -> bool:
        return self._qt is not None or self.command is not None

    def play(self, path: str | Path) -> None:
        self.stop()
        if self._qt is not None:
            self._qt.setSource(QUrl.fromLocalFile(str(path)))
            self._qt.play()
        elif self.command:
            self._proc = subprocess.Popen([*self.command, str(path)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
            self._poll.start()
            self.state.emit(True)
        else:
            open_file(path)

    def playing(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return False

    def stop(self) -> None:
        if self._qt is not None:
            self._qt.stop()
        self._poll.stop()
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


def _tool(text: str, tip: str, slot) -> QToolButton:
    button = QToolButton(text=text, toolTip=tip, autoRaise=True)
    button.clicked.connect(slot)
    return button


class FileWidget(QWidget):
    """One output or attached file: a preview for its kind, and open / reveal buttons."""

    def __init__(self, path: str | Path, max_side: int = 320, parent=None):
        super().__init__(parent)
        self.path = Path(path)
        self.kind = kind_of(self.path)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 2, 0, 2)
        if self.kind == "image":
            self.preview = QLabel()
            pm = pixmap(self.path, max_side)
            self.preview.setPixmap(pm) if not pm.isNull() else self.preview.setText("(unreadable image)")
            self.preview.setToolTip(str(self.path))
            box.addWidget(self.preview)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if self.kind == "audio":
            self.play_button = QPushButton("▶ Play")
            self.play_button.clicked.connect(self.toggle_play)
            self.play_button.setToolTip(f"Play with {player().backend}")
            player().state.connect(self._on_state)
            row.addWidget(self.play_button)
        name = QLabel(self.path.name)
        name.setToolTip(str(self.path))
        name.setTextInteractionFlags(Qt.TextSelectableByMouse)
        row.addWidget(name)
        row.addWidget(_tool("Open", "Open with the system's default program", lambda: open_file(self.path)))
        row.addWidget(_tool("Show in folder", "Reveal the file in its folder", lambda: reveal_file(self.path)))
        row.addStretch(1)
        box.addLayout(row)

    def toggle_play(self) -> None:
        p = player()
        if self.play_button.text().startswith("■"):
            p.stop()
            self.play_button.setText("▶ Play")
            return
        p.play(self.path)
        if p.can_stop:
            self.play_button.setText("■ Stop")

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
            font = self.picture.font()
            font.setPointSize(max(font.pointSize(), 10) * 2)
            self.picture.setFont(font)
        self.picture.setToolTip(str(self.path))
        box.addWidget(self.picture)
        row = QHBoxLayout()
        label = QLabel(clip(self.path.name, 14))
        label.setToolTip(self.path.name)
        row.addWidget(label)
        if removable:
            row.addWidget(_tool("✕", "Remove this attachment", lambda: self.removed.emit(str(self.path))))
        box.addLayout(row)


