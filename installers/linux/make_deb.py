"""Turn the PyInstaller folder ``dist/hgpt`` into a Debian package.

Layout of the package::

    /opt/hgpt/                       the frozen folder as built (executables + _internal)
    /usr/bin/hgpt, hgpt-desktop      two-line wrappers that exec the frozen executables
    /usr/share/applications/hgpt.desktop
    /usr/share/icons/hicolor/<N>x<N>/apps/hgpt.png, scalable/apps/hgpt.svg
    /usr/share/doc/hgpt/copyright

``Depends`` is derived, not hand-kept: every ELF file in the folder is run through
``ldd`` (with the folder's ``_internal`` first, as the bootloader sets it); each library
it needs that the folder does not carry is mapped to the Debian package that provides
it by ``desktop/syslibs.py`` (the one place that knows how: ``dpkg -S`` for a library
installed here, Debian's naming policy confirmed by ``apt-cache`` for one that is not),
and the libc floor comes from the newest ``GLIBC_2.x`` symbol version any file needs.
Libraries only Qt's optional plugins need (the GTK theme, Wayland, EGL devices: Qt
skips a plugin it cannot load) go to ``Recommends``. ``espeak-ng`` is added because the
Piper voice runs it as a separate program. A library needed that no package can be
found for stops the build with its name and the file that needs it.

Only the standard library and dpkg's tools are used, so this runs with any Python 3.
Prints the path of the ``.deb`` it wrote.

    python installers/linux/make_deb.py --dist dist/hgpt --out dist
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ICONS = ROOT / "installers" / "icons"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
RUNTIME_PROGRAMS = ["espeak-ng"]  # run as subprocesses, so ldd cannot see them
# Qt plugins the window can do without (Qt skips one it cannot load), and the Qt
# libraries only they use: what they alone need is recommended, not required.
OPTIONAL_ELF = re.compile(
    r"PySide6/Qt/(plugins/(platformthemes|wayland-[^/]+|egldeviceintegrations)/"
    r"|plugins/platforms/libq(wayland|eglfs|minimalegl|vkkhrdisplay)[^/]*$"
    r"|lib/libQt6(Wayland|WlShell|EglFs)[^/]*$)")
ELF_MAGIC = b"\x7fELF"
GLIBC_VERSION = re.compile(rb"GLIBC_2\.(\d+)(?:\.\d+)?\x00")
DESCRIPTION = """\
HuggingGPT on your laptop, offline
 A small local LLM (llama.cpp) plans your request into a task graph, picks an
 expert model for each task from a catalog of model cards, runs the experts in
 dependency order and answers, naming the models it used and the files it wrote.
 Ships a desktop window (hgpt-desktop) and a command line (hgpt) with the default
 models embedded, so it works without a network from the first start."""


def _load_syslibs():
    """desktop/syslibs.py by file path: stdlib only, and without importing the app."""
    spec = importlib.util.spec_from_file_location("hgpt_syslibs", ROOT / "desktop" / "syslibs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


syslibs = _load_syslibs()


def project_version(root: Path = ROOT) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def deb_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def elf_files(folder: Path) -> list[Path]:
    out = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as fh:
                if fh.read(4) == ELF_MAGIC:
                    out.append(path)
    return out


class UnmappedLibraries(LookupError):
    """Libraries the bundle needs that no Debian package could be found for."""


def library_needs(folder: Path, elves: list[Path]) -> dict[str, tuple[str | None, set[str]]]:
    """soname -> (its path on this machine or None, the bundle's files that need it),
    for every library outside the folder that a file in it links to."""
    inside = folder.resolve()
    carried = {p.name for p in folder.rglob("*.so*")}
    # The bootloader puts _internal on LD_LIBRARY_PATH: resolve the way the app will.
    library_path = str(inside / "_internal")
    needs: dict[str, tuple[str | None, set[str]]] = {}
    for elf in elves:
        found, missing = syslibs.parse_ldd(syslibs.ldd(elf, library_path))
        user = elf.relative_to(folder).as_posix()
        for soname, target in found.items():
            if not Path(target).resolve().is_relative_to(inside):
                needs.setdefault(soname, (target, set()))[1].add(user)
        for soname in missing:
            if soname not in carried:
                needs.setdefault(soname, (None, set()))[1].add(user)
    return needs


def glibc_floor(elves: list[Path]) -> str:
    newest = 0
    for elf in elves:
        newest = max([newest, *map(int, GLIBC_VERSION.findall(elf.read_bytes()))])
    return f"2.{newest}"


def depends(folder: Path) -> tuple[str, str]:
    """The control file's Depends and Recommends lines.

    Raises ``UnmappedLibraries`` when a library some required file needs maps to no package.
    """
    elves = elf_files(folder)
    required, optional, unmapped = set(), set(), []
    for soname, (path, users) in sorted(library_needs(folder, elves).items()):
        needed = any(not OPTIONAL_ELF.search(user) for user in users)
        package = syslibs.package_for_soname(soname, path, strict=True)
        if package:
            (required if needed else optional).add(package)
        elif needed:
            where = "installed at " + path if path else "not installed here"
            unmapped.append(f"{soname} ({where}; needed by {sorted(users)[0]})")
        else:
            print(f"make_deb: no Debian package found for {soname}, which only the optional "
                  f"{sorted(users)[0]} needs; left out of Recommends", file=sys.stderr)
    if unmapped:
        raise UnmappedLibraries(
            "no Debian package provides " + "; ".join(unmapped) + ". The package would not start "
            "without it: install the library on this machine (apt-get update first, if apt-cache "
            "does not know its package) or make the bundle carry it, then build again")
    required.discard("libc6")
    entries = [f"libc6 (>= {glibc_floor(elves)})", *sorted(required), *RUNTIME_PROGRAMS]
    recommends = sorted((optional - required - {"libc6"}) | {"xdg-utils"})
    return ", ".join(entries), ", ".join(recommends)


def control(version: str, arch: str, installed_kib: int, depends_line: str, recommends: str) -> str:
    return (f"Package: hgpt\nVersion: {version}\nArchitecture: {arch}\n"
            "Maintainer: hgpt maintainers <maintainers@hgpt.invalid>\n"
            f"Installed-Size: {installed_kib}\nDepends: {depends_line}\n"
            f"Recommends: {recommends}\nSection: science\nPriority: optional\n"
            f"Description: {DESCRIPTION}\n")


def wrapper(executable: str) -> str:
    return f'#!/bin/sh\n# Installed by the hgpt package.\nexec /opt/hgpt/{executable} "$@"\n'


def copy_tree(src: Path, dest: Path) -> None:
    """Hard-link when staging on the same file system (fast for a 1-2 GB folder), else copy."""
    try:
        shutil.copytree(src, dest, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, dest, symlinks=True)


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def stage(dist: Path, root: Path, version: str, arch: str) -> None:
    """Fill ``root`` with the package's files."""
    copy_tree(dist, root / "opt" / "hgpt")
    for exe in ("hgpt", "hgpt-desktop"):
        write(root / "usr" / "bin" / exe, wrapper(exe), 0o755)
    write(root / "usr/share/applications/hgpt.desktop", (HERE / "hgpt.desktop").read_text())
    icons = root / "usr/share/icons/hicolor"
    for size in ICON_SIZES:
        png = ICONS / "build" / f"hgpt-{size}.png"
        if not png.exists():
            raise FileNotFoundError(f"{png} is missing; run installers/render_icons.py first")
        (icons / f"{size}x{size}/apps").mkdir(parents=True, exist_ok=True)
        shutil.copy(png, icons / f"{size}x{size}/apps/hgpt.png")
    (icons / "scalable/apps").mkdir(parents=True, exist_ok=True)
    shutil.copy(ICONS / "hgpt.svg", icons / "scalable/apps/hgpt.svg")
    write(root / "usr/share/doc/hgpt/copyright",
          "hgpt is licensed under Apache-2.0. The bundled models and libraries keep their own\n"
          "licences; see /opt/hgpt/_internal/models.lock for each model's licence.\n")
    depends_line, recommends = depends(dist)
    installed_kib = (sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir()) + 1023) // 1024
    write(root / "DEBIAN/control", control(version, arch, installed_kib, depends_line, recommends))


def build(dist: Path, out: Path, workdir: Path) -> Path:
    if not (dist / "hgpt").is_file():
        raise FileNotFoundError(f"{dist}/hgpt does not exist; run installers/build_linux.sh first")
    version, arch = project_version(), deb_arch()
    root = workdir / f"hgpt_{version}_{arch}"
    shutil.rmtree(root, ignore_errors=True)
    stage(dist, root, version, arch)
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"hgpt_{version}_{arch}.deb"
    level = os.environ.get("HGPT_DEB_ZSTD_LEVEL", "6")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", f"-z{level}", "--build", str(root), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Package dist/hgpt as a .deb")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist" / "hgpt")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "deb")
    args = parser.parse_args(argv)
    try:
        print(build(args.dist, args.out, args.workdir))
    except (FileNotFoundError, subprocess.CalledProcessError, UnmappedLibraries) as exc:
        print(f"make_deb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
