"""The system libraries the window needs, and the Debian packages that provide them.

Qt's ``xcb`` platform plugin (``libqxcb.so``, the one that opens a window on X11)
links against a dozen ``libxcb-*`` and X libraries that PySide6's wheel does not carry.
When one is missing Qt aborts in ``QApplication`` with "Could not load the Qt platform
plugin "xcb" in "" even though it was found". This module is the one place that knows
how to find out which libraries are missing (``ldd`` on the plugin itself) and which
Debian package provides each one:

* ``desktop.app`` and ``installers/entry_desktop.py`` call :func:`window_problem` before
  the ``QApplication`` is made and print its one line instead of Qt's abort;
* ``scripts/setup`` runs ``python desktop/syslibs.py packages`` on every run and
  apt-installs what it prints (or prints the ``apt-get install`` line);
* ``installers/linux/make_deb.py`` maps the bundle's external libraries to the
  package's ``Depends`` with :func:`package_for_soname`.

Standard library only and runnable as a script with any Python 3.8+ (it is loaded by
file path from the installers, which must not import the app).

A soname is mapped to a package by dpkg when a file of that name is installed
(``dpkg -S``, exact); otherwise by Debian's library packaging policy — ``libfoo.so.N``
is shipped in ``libfooN``, and in ``libfoo-N`` when the name ends in a digit
(``libxcb-icccm.so.4`` → ``libxcb-icccm4``, ``libdbus-1.so.3`` → ``libdbus-1-3``) —
plus a few known exceptions, confirmed with ``apt-cache show`` where apt is present.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROGRAM = "hgpt-desktop"
XCB_PLUGIN = Path("PySide6", "Qt", "plugins", "platforms", "libqxcb.so")
LDD_LINE = re.compile(r"^\s*(\S+)\s+=>\s+(not found|\S+)")
SONAME = re.compile(r"^(lib.+?)\.so\.(\d+(?:\.\d+)*)$")
# Where Debian's policy guess is wrong: a library shipped in a package named otherwise.
KNOWN = {
    "libc.so.6": "libc6", "libm.so.6": "libc6", "libdl.so.2": "libc6", "libpthread.so.0": "libc6",
    "librt.so.1": "libc6", "libutil.so.1": "libc6", "ld-linux-x86-64.so.2": "libc6",
    "libz.so.1": "zlib1g", "libcrypto.so.3": "libssl3", "libharfbuzz.so.0": "libharfbuzz0b",
    "libglib-2.0.so.0": "libglib2.0-0", "libgobject-2.0.so.0": "libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0", "libgmodule-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0", "libgdk-3.so.0": "libgtk-3-0",
    "libbrotlicommon.so.1": "libbrotli1", "libbrotlidec.so.1": "libbrotli1",
    "libbrotlienc.so.1": "libbrotli1", "libjpeg.so.62": "libjpeg62-turbo",
}
KNOWN_PATTERNS = ((re.compile(r"^libicu[a-z0-9]*\.so\.(\d+)$"), r"libicu\1"),)


# ---- ldd ------------------------------------------------------------------------------

def parse_ldd(text: str) -> tuple[dict[str, str], list[str]]:
    """(soname -> resolved path, sonames not found, in order and without repeats)."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for line in text.splitlines():
        match = LDD_LINE.match(line)
        if not match:
            continue
        soname, target = match.groups()
        if target == "not found":
            if soname not in missing:
                missing.append(soname)
        elif target.startswith("/"):
            found.setdefault(soname, target)
    return found, missing


def ldd(path: Path | str, library_path: str | None = None) -> str:
    """``ldd``'s output for ``path`` ("" without ldd); ``library_path`` goes first on LD_LIBRARY_PATH."""
    if not shutil.which("ldd"):
        return ""
    env = dict(os.environ)
    if library_path:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (library_path, env.get("LD_LIBRARY_PATH")) if p)
    result = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env)
    return result.stdout


def missing_libraries(path: Path | str, library_path: str | None = None) -> list[str]:
    return parse_ldd(ldd(path, library_path))[1]


# ---- soname -> Debian package -----------------------------------------------------------

def policy_name(soname: str) -> str | None:
    """The package Debian's policy names for a library, before any confirmation."""
    if soname in KNOWN:
        return KNOWN[soname]
    for pattern, replacement in KNOWN_PATTERNS:
        if pattern.match(soname):
            return pattern.sub(replacement, soname)
    match = SONAME.match(soname)
    if not match:
        return None
    name, version = match.groups()
    name = name.lower().replace("_", "-")
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def owning_package(path: str) -> str | None:
    """The installed package that owns ``path`` (``dpkg -S``, trying the /usr-merged twins)."""
    if not shutil.which("dpkg"):
        return None
    candidates = [path, os.path.realpath(path)]
    candidates += [c[len("/usr"):] if c.startswith("/usr/") else "/usr" + c for c in list(candidates)]
    for candidate in dict.fromkeys(candidates):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0 and result.stdout:
            return result.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def apt_knows(package: str) -> bool | None:
    """Whether apt can install ``package``; None when there is no apt to ask."""
    if not shutil.which("apt-cache"):
        return None
    result = subprocess.run(["apt-cache", "show", "--no-all-versions", package], capture_output=True, text=True)
    return result.returncode == 0 and "Package:" in result.stdout


def package_for_soname(soname: str, path: str | None = None, strict: bool = False) -> str | None:
    """The Debian package providing ``soname`` (found at ``path`` on this machine, if it is).

    An installed file is looked up with dpkg. Otherwise the policy name is checked with
    apt-cache; ``strict`` returns None when apt does not know it (or there is no apt),
    else the policy name is returned unconfirmed (apt-get will say if it is wrong).
    """
    if path:
        owner = owning_package(path)
        if owner:
            return owner
    guess = policy_name(soname)
    if guess is None:
        return None
    known = apt_knows(guess)
    if known:
        return guess
    return None if strict else guess


def install_command(packages: list[str]) -> str:
    sudo = "" if hasattr(os, "geteuid") and os.geteuid() == 0 else "sudo "
    return f"{sudo}apt-get install {' '.join(packages)}"


# ---- the window's start-up check --------------------------------------------------------

def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin of the PySide6 this process would use (not imported)."""
    base = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and base:
        plugin = Path(base) / XCB_PLUGIN
        return plugin if plugin.exists() else None
    import importlib.util

    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder).parent / XCB_PLUGIN
        if plugin.exists():
            return plugin
    return None


def uses_xcb(environ=os.environ) -> bool:
    """Whether Qt would open the window through xcb (a cheap guess from the environment)."""
    if not sys.platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if requested:
        return requested == "xcb"
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return False  # Qt 6 picks its Wayland plugin there
    return bool(environ.get("DISPLAY"))


def _loads(plugin: Path) -> bool:
    """Whether the dynamic loader can load the plugin with everything it links to.

    Qt loads the same file right after, so when this succeeds it costs next to nothing.
    """
    import ctypes

    try:
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError:
        return False
    return True


def missing_message(missing: list[str], packages: list[str]) -> str:
    """The one line printed instead of Qt's abort."""
    libs = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)
    it = "them" if len(missing) > 1 else "it"
    how = f"install {it} with: {install_command(packages)}"
    if not shutil.which("apt-get"):
        how = f"install the packages that provide {it} (on Debian or Ubuntu: {install_command(packages)})"
    return (f"{PROGRAM}: cannot open the window: Qt's xcb platform plugin needs {libs}, "
            f"which {'are' if len(missing) > 1 else 'is'} not installed; {how}")


def window_problem(environ=os.environ, plugin: Path | None = None) -> str | None:
    """One line saying which libraries are missing and how to install them, or None.

    Runs only when the window would go through xcb; costs one ``dlopen`` of the plugin
    (which Qt does anyway) on the normal path and runs ``ldd`` only when that fails.
    """
    if not uses_xcb(environ):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None or _loads(plugin):
        return None
    library_path = getattr(sys, "_MEIPASS", None) if getattr(sys, "frozen", False) else None
    missing = missing_libraries(plugin, library_path)
    if not missing:
        return None  # something else is wrong; Qt says what
    packages = list(dict.fromkeys(package_for_soname(s) or s for s in missing))
    return missing_message(missing, packages)


def missing_packages(plugin: Path | None = None) -> tuple[list[str], list[str]]:
    """(Debian packages to install for the xcb plugin's missing libraries, sonames with none)."""
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return [], []
    packages, unmapped = [], []
    for soname in missing_libraries(plugin):
        package = package_for_soname(soname)
        if package is None:
            unmapped.append(soname)
        elif package not in packages:
            packages.append(package)
    return packages, unmapped


def main(argv: list[str] | None = None) -> int:
    """``packages``: print the packages to install (setup); ``check``: the start-up check."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["packages"]:
        if not sys.platform.startswith("linux"):
            return 0
        packages, unmapped = missing_packages()
        for soname in unmapped:
            print(f"no Debian package is known for {soname}, which Qt's xcb plugin needs", file=sys.stderr)
        print(" ".join(packages))
        return 0
    if args[:1] == ["check"]:
        problem = window_problem({**os.environ, "QT_QPA_PLATFORM": "xcb"})
        print(problem or "the xcb platform plugin loads")
        return 1 if problem else 0
    print("usage: syslibs.py packages|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
