"""Shared fixtures. Every test gets its own HGPT_HOME, so nothing touches the user's data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def hgpt_home(tmp_path, monkeypatch):
    home = tmp_path / "hgpt-home"
    monkeypatch.setenv("HGPT_HOME", str(home))
    from engine import config

    config.settings.cache_clear()
    yield home
    config.settings.cache_clear()


@pytest.fixture
def settings(hgpt_home):
    from engine.settings import load_settings

    return load_settings(hgpt_home)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared (TaskBench sample, catalog sample) is not beside the project")
    return SHARED


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict[str, Path]:
    """scikit-image's sample photos saved as PNG files."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    out = {}
    for name in ("astronaut", "chelsea", "coffee", "rocket", "page"):
        path = folder / f"{name}.png"
        Image.fromarray(getattr(skimage_data, name)()).save(path)
        out[name] = path
    return out


@pytest.fixture(scope="session")
def llm():
    """The real embedded controller (SmolLM2-135M through llama.cpp), loaded once."""
    pytest.importorskip("llama_cpp")
    from engine.controller.llama import LlamaController

    return LlamaController(n_ctx=4096, n_threads=2)
