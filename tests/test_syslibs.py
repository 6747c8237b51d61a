"""desktop/syslibs.py: which system libraries the window lacks and which package has them.

The start-up check, setup and the .deb builder all go through these functions; here
they run on fixed ``ldd`` output, so the result does not depend on this machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from desktop import syslibs

ROOT = Path(__file__).resolve().parents[1]

LDD_TWO_MISSING = """\
\tlinux-vdso.so.1 (0x00007ffd6b1f0000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f5a1c000000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f5a1bf00000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f5a1be00000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007f5a1c200000)
"""


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),  # the name ends in a digit: a hyphen
    ("libdbus-1.so.3", "libdbus-1-3"),
    ("libX11-xcb.so.1", "libx11-xcb1"),  # lower case
    ("libGL.so.1", "libgl1"),
    ("libgcc_s.so.1", "libgcc-s1"),  # underscore to hyphen
    ("libbz2.so.1.0", "libbz2-1.0"),
    ("libglib-2.0.so.0", "libglib2.0-0"),  # the known exceptions
    ("libgdk-3.so.0", "libgtk-3-0"),
    ("libz.so.1", "zlib1g"),
    ("libicuuc.so.72", "libicu72"),
    ("not-a-library", None),
])
def test_debian_policy_names_the_package(soname, package):
    assert syslibs.policy_name(soname) == package


def test_ldd_output_is_parsed_without_repeats():
    found, missing = syslibs.parse_ldd(LDD_TWO_MISSING)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert found["libxcb.so.1"] == "/lib/x86_64-linux-gnu/libxcb.so.1"
    assert "linux-vdso.so.1" not in found and "ld-linux-x86-64.so.2" not in found


def test_apt_confirms_the_guess_or_strict_mapping_gives_none(monkeypatch):
    monkeypatch.setattr(syslibs, "apt_knows", lambda package: package == "libxcb-icccm4")
    assert syslibs.package_for_soname("libxcb-icccm.so.4", strict=True) == "libxcb-icccm4"
    assert syslibs.package_for_soname("libhgpt-nosuch.so.1", strict=True) is None
    assert syslibs.package_for_soname("libhgpt-nosuch.so.1") == "libhgpt-nosuch1"  # setup: apt-get will say
    monkeypatch.setattr(syslibs, "apt_knows", lambda package: None)  # no apt here
    assert syslibs.package_for_soname("libxcb-icccm.so.4", strict=True) is None


def test_an_installed_library_is_mapped_by_dpkg():
    if not Path("/usr/bin/dpkg").exists():
        pytest.skip("not a Debian system")
    libc = next(p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6",
                            "/lib/aarch64-linux-gnu/libc.so.6") if Path(p).exists())
    assert syslibs.package_for_soname("libc.so.6", libc, strict=True) == "libc6"


def _no_probe(*_):
    raise AssertionError("the start-up check probed the plugin where no xcb window opens")


@pytest.mark.parametrize("environ", [
    {"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"},
    {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"},
    {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
    {},  # no display at all
])
def test_the_check_costs_nothing_where_xcb_is_not_used(environ, monkeypatch):
    monkeypatch.setattr(syslibs, "_loads", _no_probe)
    monkeypatch.setattr(syslibs, "ldd", _no_probe)
    assert syslibs.window_problem(environ, plugin=Path("/nonexistent/libqxcb.so")) is None


def test_the_check_runs_ldd_only_when_the_plugin_fails_to_load(monkeypatch):
    monkeypatch.setattr(syslibs, "_loads", lambda plugin: True)
    monkeypatch.setattr(syslibs, "ldd", _no_probe)
    assert syslibs.window_problem({"DISPLAY": ":0"}, plugin=Path("/x/libqxcb.so")) is None


def test_missing_libraries_give_one_line_with_the_install_command(monkeypatch):
    monkeypatch.setattr(syslibs, "_loads", lambda plugin: False)
    monkeypatch.setattr(syslibs, "ldd", lambda path, library_path=None: LDD_TWO_MISSING)
    monkeypatch.setattr(syslibs, "apt_knows", lambda package: True)
    monkeypatch.setattr(syslibs.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(syslibs.os, "geteuid", lambda: 1000)
    line = syslibs.window_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, plugin=Path("/x/libqxcb.so"))
    assert line == ("hgpt-desktop: cannot open the window: Qt's xcb platform plugin needs libxcb-icccm.so.4 "
                    "and libxcb-keysyms.so.1, which are not installed; install them with: "
                    "sudo apt-get install libxcb-icccm4 libxcb-keysyms1")
    assert "\n" not in line
    monkeypatch.setattr(syslibs.os, "geteuid", lambda: 0)
    assert syslibs.missing_message(["libxcb-icccm.so.4"], ["libxcb-icccm4"]).endswith(
        "which is not installed; install it with: apt-get install libxcb-icccm4")


def test_the_app_prints_the_line_instead_of_qts_abort(monkeypatch, capsys):
    """desktop.app.main stops before making a QApplication when the check reports a problem."""
    from desktop import app

    class NoApplication:  # Qt would abort here: must not be reached
        instance = staticmethod(lambda: None)

        def __init__(self, *args):
            raise AssertionError("a QApplication was made")

    monkeypatch.setattr(app, "window_problem", lambda: "hgpt-desktop: cannot open the window: …")
    monkeypatch.setattr(app, "QApplication", NoApplication)
    assert app.main([]) == 1
    assert capsys.readouterr().err == "hgpt-desktop: cannot open the window: …\n"


def test_setup_runs_it_as_a_plain_script(tmp_path):
    """``syslibs.py packages`` (what scripts/setup runs, isolated, stdlib only) prints package names."""
    result = subprocess.run([sys.executable, "-I", str(ROOT / "desktop" / "syslibs.py"), "packages"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", name) for name in result.stdout.split()), result.stdout
