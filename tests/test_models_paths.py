"""engine.models.paths: the one answer to "where is the Hugging Face hub cache"."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models.paths import hf_cache_dir

HF_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


@pytest.fixture
def clean_env(monkeypatch):
    for var in HF_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize("set_vars, expected", [
    ({"HF_HUB_CACHE": "a", "HUGGINGFACE_HUB_CACHE": "b", "HF_HOME": "c", "XDG_CACHE_HOME": "d"}, "a"),
    ({"HUGGINGFACE_HUB_CACHE": "b", "HF_HOME": "c", "XDG_CACHE_HOME": "d"}, "b"),
    ({"HF_HOME": "c", "XDG_CACHE_HOME": "d"}, "c/hub"),
    ({"XDG_CACHE_HOME": "d"}, "d/huggingface/hub"),
])
def test_the_hub_cache_follows_huggingface_hubs_precedence(clean_env, tmp_path, set_vars, expected):
    for var, value in set_vars.items():
        clean_env.setenv(var, str(tmp_path / value))
    assert hf_cache_dir() == tmp_path / expected


def test_with_nothing_set_the_cache_is_under_the_home_folder(clean_env):
    assert hf_cache_dir() == Path.home() / ".cache" / "huggingface" / "hub"


def test_the_cache_folder_is_read_at_each_call(clean_env, tmp_path):
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "one"))
    assert hf_cache_dir() == tmp_path / "one"
    clean_env.setenv("HF_HUB_CACHE", str(tmp_path / "two"))
    assert hf_cache_dir() == tmp_path / "two"


def test_it_is_the_environments_answer(clean_env, tmp_path):
    from engine.settings import environment

    clean_env.setenv("HUGGINGFACE_HUB_CACHE", "~/somewhere")
    assert hf_cache_dir() == environment().hf_cache == Path.home() / "somewhere"


def test_huggingface_hub_agrees_on_the_folder(clean_env, tmp_path):
    """The precedence is huggingface_hub's own: a fresh interpreter's constants say the same."""
    import json
    import os
    import subprocess
    import sys

    for var, value in (("HUGGINGFACE_HUB_CACHE", "b"), ("HF_HOME", "c"), ("XDG_CACHE_HOME", "d")):
        clean_env.setenv(var, str(tmp_path / value))
    code = "import json, huggingface_hub.constants as c; print(json.dumps(c.HF_HUB_CACHE))"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True,
                         text=True, check=True, timeout=120)
    assert Path(json.loads(out.stdout)) == hf_cache_dir() == tmp_path / "b"


def test_one_function_finds_a_packs_folder():
    from engine.experts.packs import pack_dir
    from engine.models.paths import module_dir

    assert pack_dir is module_dir
    assert module_dir("json") == Path(__import__("json").__file__).parent
    assert module_dir("no_such_module_hgpt") is None and module_dir("") is None


def test_models_catalog_scan_hub_and_devices_read_variables_only_through_environment():
    """engine.settings.environment() is the one reader of os.environ; these modules ask it."""
    import re

    root = Path(__file__).resolve().parents[1] / "engine"
    files = [*sorted((root / "models").glob("*.py")), root / "catalog" / "scan.py", root / "catalog" / "hub.py",
             root / "devices.py", root / "cli" / "models.py"]
    reads = re.compile(r"os\.environ|os\.getenv|os\.putenv")
    hits = {p.name: reads.findall(p.read_text(encoding="utf-8")) for p in files}
    assert {name: h for name, h in hits.items() if h} == {}
