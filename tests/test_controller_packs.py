"""Controllers from models.lock: a GGUF split across packs is joined, verified and
stamped; a changed file is joined again; the machine's memory picks the default."""

from __future__ import annotations

import hashlib
import json

import pytest

from engine.controller import packs
from engine.errors import ModelFileError
from engine.models.lock import parse_lock


@pytest.fixture
def split_pack(tmp_path, monkeypatch):
    """Three tiny packs on sys.path holding the three parts of one 'GGUF', and its lock."""
    site = tmp_path / "site"
    body = b"GGUF" + bytes(range(256)) * 40
    chunks = [body[:3000], body[3000:7000], body[7000:]]
    for i, chunk in enumerate(chunks, 1):
        folder = site / f"toy_part{i}" / "data"
        folder.mkdir(parents=True)
        (site / f"toy_part{i}" / "__init__.py").write_text("raise RuntimeError('pack code must not run')\n")
        (folder / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    parts = [f"toy_part{i}/data/part{i:02d}.bin" for i in range(1, 4)]
    lock = parse_lock(
        '[models.toy]\nsource = "pypi:toy-part1==1.0"\ntasks = ["controller"]\n'
        'packages = ["toy-part2==1.0", "toy-part3==1.0"]\n'
        '[models.toy.joined]\npath = "toy.gguf"\n'
        f'sha256 = "{hashlib.sha256(body).hexdigest()}"\nsize = {len(body)}\nparts = {json.dumps(parts)}\n'
        + "".join(f'[[models.toy.files]]\npath = "{p}"\nsha256 = ""\nsize = 0\n' for p in parts))
    return lock.get("toy"), body, site


def test_parts_are_joined_verified_and_stamped_without_running_pack_code(split_pack, tmp_path):
    entry, body, _ = split_pack
    out = packs.join(entry, tmp_path / "models")
    assert out.read_bytes() == body
    stamp = json.loads((out.parent / "toy.gguf.verified").read_text())
    assert stamp["sha256"] == entry.joined.sha256 and stamp["size"] == len(body)
    assert sorted(p.name for p in out.parent.iterdir()) == ["toy.gguf", "toy.gguf.verified"]
    assert packs.ensure_joined(entry, out.parent) == out  # trusted by its stamp


def test_a_changed_joined_file_is_joined_again(split_pack, tmp_path):
    entry, body, _ = split_pack
    out = packs.join(entry, tmp_path)
    out.write_bytes(b"GGUF" + b"\0" * (len(body) - 4))  # same size, other bytes, new mtime
    assert packs.ensure_joined(entry, tmp_path).read_bytes() == body


def test_parts_that_do_not_add_up_leave_no_file(split_pack, tmp_path):
    entry, _, site = split_pack
    (site / "toy_part2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(ModelFileError, match="not the .* bytes models.lock pins; reinstall"):
        packs.join(entry, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_a_missing_part_says_what_to_install(split_pack, tmp_path):
    entry, _, site = split_pack
    (site / "toy_part3" / "data" / "part03.bin").unlink()
    with pytest.raises(ModelFileError, match="1 of its 3 parts are missing.*toy-part1==1.0 toy-part2==1.0 toy-part3==1.0"):
        packs.join(entry, tmp_path)


def test_the_default_controller_follows_the_memory():
    info = lambda name, mem, rank, installed=True: packs.ControllerInfo(name, name, 1, mem, rank, "", installed)  # noqa: E731
    options = [info("big", 6000, 3), info("mid", 3000, 2, installed=False), info("small", 0, 1)]
    assert packs.recommend(16_000, options).name == "big"
    assert packs.recommend(4_000, options).name == "small"  # mid fits but is not installed
    assert packs.recommend(4_000, options, installed_only=False).name == "mid"
    assert packs.recommend(16_000, []) is None


def test_models_lock_names_the_default_controllers():
    names = {c.name: c for c in packs.controllers()}
    assert names["qwen2.5-coder-1.5b-instruct"].rank > names["smollm2-135m-instruct"].rank
    assert names["smollm2-135m-instruct"].min_memory_mb == 0  # the small-memory fallback
    assert packs.default_controller(memory_mb=2_000) == "smollm2-135m-instruct"
    assert packs.default_controller(memory_mb=24_000) == "qwen2.5-coder-1.5b-instruct"


def test_a_joined_file_in_a_read_only_folder_keeps_its_stamp_elsewhere(split_pack, tmp_path, monkeypatch):
    """The packaged app carries the joined GGUF in a folder its user cannot write: the
    stamp goes to the data folder, so later starts trust the file after one stat."""
    import os

    entry, body, _ = split_pack
    app = tmp_path / "app"
    out = packs.join(entry, app)
    (app / "toy.gguf.verified").unlink()
    stamps = tmp_path / "data" / "models"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(app) else real_access(path, mode))
    assert packs.ensure_joined(entry, app, stamps=stamps) == out
    assert (stamps / "toy.gguf.verified").is_file()
    out.write_bytes(b"GGUF" + b"\1" * (len(body) - 4))
    with pytest.raises(ModelFileError, match="does not match models.lock.*reinstall hgpt"):
        packs.ensure_joined(entry, app, stamps=stamps)


def test_a_joined_controller_without_its_parts_counts_as_installed_and_is_verified(split_pack, hgpt_home):
    """As the Linux package carries it: the joined file, none of the part files."""
    from engine.models.verify import MISMATCH, MISSING, VERIFIED, check_model, check_presence

    entry, body, site = split_pack
    for part in site.glob("toy_part*/data/*.bin"):
        part.unlink()
    assert check_presence(entry) == MISSING and check_model(entry).status == MISSING
    joined = hgpt_home / "models" / "toy.gguf"
    joined.parent.mkdir(parents=True)
    joined.write_bytes(body)
    assert check_presence(entry) == "installed"
    check = check_model(entry)
    assert check.status == VERIFIED and check.files[0].path == joined
    joined.write_bytes(b"GGUF" + b"\0" * (len(body) - 4))  # same size, other bytes
    assert check_presence(entry) == "installed" and check_model(entry).status == MISMATCH
    assert "does not match models.lock" in check_model(entry).message()
