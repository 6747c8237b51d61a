"""Discovery: one expert per model in the local Hugging Face cache.

At registration ``register(registry)`` lists the cache with
``huggingface_hub.scan_cache_dir`` (a directory walk, no network), reads each model's
``config.json`` and README front matter from its ``main`` snapshot (else the newest),
and registers a ``TransformersExpert`` for every model whose task types hgpt can
run, or a ``DiffusionExpert`` for diffusers pipelines and ControlNets. It imports
nothing heavy, so starting the app stays fast however full the cache is.

One broken cache entry (an unreadable config, a half-deleted snapshot) is logged and
skipped; it never stops the others from registering. A model id some other expert
already registered (a built-in pack for the same model) is left to that expert.

Each ``TransformersExpert`` is given the folder its ONNX exports go to:
``registry.settings.onnx_dir`` when the registry was built for settings, else none
(a temporary folder, see ``onnx``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ...models.paths import hf_cache_dir
from .infer import model_kind, tasks_for
from .local import read_card
from .runners import UNSUPPORTED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedModel:
    repo_id: str
    revision: str  # the snapshot's commit
    folder: Path
    size_mb: float


def cached_models(cache: Path | None = None) -> list[CachedModel]:
    """Models in the cache, each at its ``main`` snapshot (else the most recent one)."""
    cache = Path(cache) if cache else hf_cache_dir()
    if not cache.is_dir() or not any(cache.glob("models--*")):
        return []
    from huggingface_hub import scan_cache_dir

    try:
        info = scan_cache_dir(cache)
    except Exception as exc:  # CacheNotFound, or an unreadable folder
        log.warning("cannot scan the Hugging Face cache %s: %s", cache, exc)
        return []
    for warning in info.warnings:
        log.info("hf cache: %s", warning)
    models = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        rev = next((r for r in repo.revisions if "main" in r.refs),
                   max(repo.revisions, key=lambda r: r.last_modified))
        models.append(CachedModel(repo.repo_id, rev.commit_hash, Path(rev.snapshot_path), repo.size_on_disk / 1e6))
    return models


def expert_for(model: CachedModel, onnx_dir: Path | None = None):
    """The expert for one cached model, or None when hgpt has no runner for it."""
    kind = model_kind(model.folder)
    card = read_card(model.folder)
    common = {"description": _describe(card, model), "licence": str(card.get("license") or "")}
    if kind in ("diffusers-pipeline", "controlnet"):
        from ..diffusion import expert_for_cached

        return expert_for_cached(model.repo_id, model.folder, kind, card, revision=model.revision, **common)
    if kind != "transformers":
        return None
    tasks = [t for t in tasks_for(model.folder) if t not in UNSUPPORTED]
    if not tasks:
        return None
    from .expert import TransformersExpert

    return TransformersExpert(model.repo_id, tasks, revision=model.revision, onnx_dir=onnx_dir, **common)


def _describe(card: dict, model: CachedModel) -> str:
    tags = ", ".join(str(t) for t in (card.get("tags") or [])[:6])
    return f"{model.repo_id} from the local Hugging Face cache" + (f" ({tags})" if tags else "")


def discover(cache: Path | None = None, onnx_dir: Path | None = None) -> list:
    experts = []
    for model in cached_models(cache):
        try:
            expert = expert_for(model, onnx_dir)
        except Exception as exc:  # one broken entry must not stop the rest
            log.warning("skipping cached model %s: %s", model.repo_id, exc)
            continue
        if expert is not None:
            experts.append(expert)
    return experts


def register(registry, cache: Path | None = None) -> list:
    """Register an expert per usable cached model (ids already registered are kept)."""
    settings = getattr(registry, "settings", None)
    onnx_dir = settings.onnx_dir if settings is not None else None
    added = []
    for expert in discover(cache, onnx_dir):
        if expert.model_id in registry:
            log.info("%s is already served by %r; the cached copy is not registered twice",
                     expert.model_id, registry.get(expert.model_id))
            continue
        added.append(registry.register(expert))
    return added


def register_one(registry, repo_id: str, cache: Path | None = None):
    """Register the expert for one model just put in the cache (a pull); None when hgpt has
    no runner for it or it is already registered."""
    if repo_id in registry:
        return None
    settings = getattr(registry, "settings", None)
    onnx_dir = settings.onnx_dir if settings is not None else None
    for model in cached_models(cache):
        if model.repo_id == repo_id:
            expert = expert_for(model, onnx_dir)
            return registry.register(expert) if expert is not None else None
    return None
