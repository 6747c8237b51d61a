"""Turn the PyInstaller folder ``dist/hgpt`` into a Debian package.

Layout of the package::

    /opt/hgpt/                       the frozen folder as built (executables + _internal)
    /usr/bin/hgpt, hgpt-desktop      two-line wrappers that exec the frozen executables
    /usr/share/applications/hgpt.desktop
    /usr/share/icons/hicolor/<N>x<N>/apps/hgpt.png, scalable/apps/hgpt.svg
    /usr/share/doc/hgpt/copyright

``Depends`` is derived, not hand-kept: every ELF file in the folder is run through
``ldd``; each library it resolves outside the folder is mapped to the Debian package
that owns it (``dpkg -S``), and the libc floor comes from the newest ``GLIBC_2.x``
symbol version any file needs. ``espeak-ng`` is added because the Piper voice runs it
as a separate program. Libraries that resolve nowhere on the build machine are
reported, since the package could not load them anywhere either.

Only the standard library and dpkg's tools are used, so this runs with any Python 3.
Prints the path of the ``.deb`` it wrote.

    python installers/linux/make_deb.py --dist dist/hgpt --out dist
"""

from __future__ import annotations

import argparse
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
# Libraries of Qt's optional plugins (GTK theme, Wayland) that a build machine without a
# desktop lacks: Qt skips a plugin it cannot load, so these are recommended, not required.
OPTIONAL_LIBRARIES = {
    "libgtk-3.so.0": "libgtk-3-0", "libgdk-3.so.0": "libgtk-3-0",
    "libwayland-cursor.so.0": "libwayland-cursor0", "libwayland-egl.so.1": "libwayland-egl1",
    "libxdamage.so.1": "libxdamage1",
}
ELF_MAGIC = b"\x7fELF"
GLIBC_VERSION = re.compile(rb"GLIBC_2\.(\d+)(?:\.\d+)?\x00")
LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|/\S+)")
DESCRIPTION = """\
HuggingGPT on your laptop, offline
 A small local LLM (llama.cpp) plans your request into a task graph, picks an
 expert model for each task from a catalog of model cards, runs the experts in
 dependency order and answers, naming the models it used and the files it wrote.
 Ships a desktop window (hgpt-desktop) and a command line (hgpt) with the default
 models embedded, so it works without a network from the first start."""


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


def external_libraries(folder: Path, elves: list[Path]) -> tuple[set[str], set[str]]:
    """(system library paths the bundle links to, sonames that resolve nowhere)."""
    inside = folder.resolve()
    # The bootloader puts _internal on LD_LIBRARY_PATH: resolve the way the app will.
    env = {**os.environ, "LD_LIBRARY_PATH": str(inside / "_internal")}
    found, missing = set(), set()
    for elf in elves:
        result = subprocess.run(["ldd", str(elf)], capture_output=True, text=True, env=env)
        for line in result.stdout.splitlines():
            match = LDD_LINE.match(line)
            if not match:
                continue
            soname, target = match.groups()
            if target == "not found":
                if not (elf.parent / soname).exists() and not list(folder.rglob(soname)):
                    missing.add(soname)
            elif not Path(target).resolve().is_relative_to(inside):
                found.add(target)
    return found, missing


def owning_packages(paths: set[str]) -> tuple[set[str], set[str]]:
    """(Debian packages owning ``paths``, paths no package owns)."""
    packages, orphans = set(), set()
    for path in sorted(paths):
        candidates = {path, str(Path(path).resolve())}
        candidates |= {c.removeprefix("/usr") for c in list(candidates)} | {"/usr" + c for c in list(candidates)
                                                                            if not c.startswith("/usr")}
        owner = None
        for candidate in candidates:
            result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if result.returncode == 0:
                owner = result.stdout.split(":", 1)[0].split(",")[0].strip()
                break
        if owner:
            packages.add(owner)
        else:
            orphans.add(path)
    return packages, orphans


def glibc_floor(elves: list[Path]) -> str:
    newest = 0
    for elf in elves:
        newest = max([newest, *map(int, GLIBC_VERSION.findall(elf.read_bytes()))])
    return f"2.{newest}"


def depends(folder: Path) -> tuple[str, str, set[str]]:
    """The control file's Depends and Recommends lines, and the sonames that resolve nowhere."""
    elves = elf_files(folder)
    libs, missing = external_libraries(folder, elves)
    packages, orphans = owning_packages(libs)
    packages.discard("libc6")
    for orphan in sorted(orphans):
        print(f"make_deb: {orphan} belongs to no Debian package; left out of Depends", file=sys.stderr)
    entries = [f"libc6 (>= {glibc_floor(elves)})", *sorted(packages), *RUNTIME_PROGRAMS]
    recommends = sorted({OPTIONAL_LIBRARIES[m] for m in missing if m in OPTIONAL_LIBRARIES} | {"xdg-utils"})
    return ", ".join(entries), ", ".join(recommends), missing - set(OPTIONAL_LIBRARIES)


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


def stage(dist: Path, root: Path, version: str, arch: str) -> set[str]:
    """Fill ``root`` with the package's files; returns sonames that resolve nowhere."""
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
    depends_line, recommends, missing = depends(dist)
    installed_kib = (sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir()) + 1023) // 1024
    write(root / "DEBIAN/control", control(version, arch, installed_kib, depends_line, recommends))
    return missing


def build(dist: Path, out: Path, workdir: Path) -> Path:
    if not (dist / "hgpt").is_file():
        raise FileNotFoundError(f"{dist}/hgpt does not exist; run installers/build_linux.sh first")
    version, arch = project_version(), deb_arch()
    root = workdir / f"hgpt_{version}_{arch}"
    shutil.rmtree(root, ignore_errors=True)
    missing = stage(dist, root, version, arch)
    if missing:
        print(f"make_deb: these libraries resolve nowhere on this machine: {', '.join(sorted(missing))}",
              file=sys.stderr)
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
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"make_deb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
