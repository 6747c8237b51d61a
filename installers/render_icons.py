"""Render ``installers/icons/hgpt.svg`` to the bitmaps each platform wants.

Linux gets hicolor PNGs (16…512 px), Windows one ``.ico`` holding several sizes, and
macOS an ``.icns``. Qt's own SVG renderer draws the PNGs (PySide6 is already a
dependency of the desktop app, so no extra tool such as rsvg-convert is needed) and
Pillow packs them into ``.ico``/``.icns``. Output goes to ``installers/icons/build/``,
which is not committed; the build scripts call this first.

    python installers/render_icons.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SVG = HERE / "icons" / "hgpt.svg"
OUT = HERE / "icons" / "build"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_png(svg: Path, size: int, dest: Path) -> Path:
    """Draw ``svg`` into a transparent ``size``×``size`` PNG at ``dest``."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG; fix it and render again")
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(dest), "PNG"):
        raise OSError(f"could not write {dest}; check the folder is writable")
    return dest


def render_all(out: Path = OUT, svg: Path = SVG) -> dict[str, Path]:
    """Every PNG size plus ``hgpt.ico`` and ``hgpt.icns``; returns name → path."""
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    made = {f"hgpt-{s}.png": render_png(svg, s, out / f"hgpt-{s}.png") for s in SIZES}
    biggest = Image.open(made["hgpt-512.png"])
    biggest.save(out / "hgpt.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    biggest.save(out / "hgpt.icns")
    made["hgpt.ico"], made["hgpt.icns"] = out / "hgpt.ico", out / "hgpt.icns"
    return made


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    for name, path in render_all(target).items():
        print(path)
