"""Lay out ``dist/hgpt.AppDir`` and, where ``appimagetool`` exists, pack an AppImage.

An AppImage is a small runtime ELF followed by a squashfs of an AppDir. The AppDir is
made here from the PyInstaller folder (hard-linked, so it costs no disk): ``AppRun``
opens the window, or runs the CLI when called as ``hgpt`` (a symlink named so) or with
``cli`` as its first argument; ``hgpt.desktop`` and ``hgpt.png`` sit at the top as the
format requires.

The runtime and ``appimagetool`` come only from the AppImage project's own downloads:
no PyPI or Debian package carries them (PyPI's ``appimage`` and ``pyproject-appimage``
download appimagetool when they run), so on a machine without network only the AppDir
is produced and the message says how to finish it elsewhere.

    python installers/linux/make_appdir.py --dist dist/hgpt --out dist
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from make_deb import copy_tree  # noqa: E402

APPRUN = """#!/bin/sh
# hgpt AppImage entry: the window by default; the CLI when run as "hgpt" or "… cli ARGS".
HERE="$(dirname "$(readlink -f "$0")")"
name="$(basename "${ARGV0:-$0}")"
if [ "$name" = "hgpt" ]; then exec "$HERE/opt/hgpt/hgpt" "$@"; fi
if [ "${1:-}" = "cli" ]; then shift; exec "$HERE/opt/hgpt/hgpt" "$@"; fi
exec "$HERE/opt/hgpt/hgpt-desktop" "$@"
"""


ICON = ROOT / "installers" / "icons" / "build" / "hgpt-256.png"


def make_appdir(dist: Path, appdir: Path, icon: Path = ICON) -> Path:
    if not (dist / "hgpt-desktop").is_file():
        raise FileNotFoundError(f"{dist}/hgpt-desktop does not exist; run installers/build_linux.sh first")
    shutil.rmtree(appdir, ignore_errors=True)
    appdir.mkdir(parents=True)
    copy_tree(dist, appdir / "opt" / "hgpt")
    (appdir / "AppRun").write_text(APPRUN)
    (appdir / "AppRun").chmod(0o755)
    shutil.copy(HERE / "hgpt.desktop", appdir / "hgpt.desktop")
    if not icon.exists():
        raise FileNotFoundError(f"{icon} is missing; run installers/render_icons.py first")
    shutil.copy(icon, appdir / "hgpt.png")
    os.symlink("hgpt.png", appdir / ".DirIcon")
    return appdir


def pack_appimage(appdir: Path, out: Path) -> Path | None:
    tool = shutil.which("appimagetool")
    if tool is None:
        print(f"make_appdir: appimagetool is not installed (no PyPI or Debian package provides it); "
              f"{appdir} is ready: run 'appimagetool {appdir}' where it is available", file=sys.stderr)
        return None
    arch = platform.machine()
    image = out / f"hgpt-{arch}.AppImage"
    subprocess.run([tool, "--no-appstream", str(appdir), str(image)], check=True, env={**os.environ, "ARCH": arch})
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make dist/hgpt.AppDir (and an AppImage if possible)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "hgpt")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        appdir = make_appdir(args.dist, args.out / "hgpt.AppDir")
    except FileNotFoundError as exc:
        print(f"make_appdir: {exc}", file=sys.stderr)
        return 1
    print(pack_appimage(appdir, args.out) or appdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
