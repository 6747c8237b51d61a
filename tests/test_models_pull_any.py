"""``hgpt models pull ORG/NAME[@REVISION]``: any Hub model id, against the local fake Hub
(tests/fakehub.py: the model API, commits, gated repos, Range requests) through
huggingface_hub's own client. The model pulled is a real (tiny, random) ViT saved by
transformers, and the tests run it after the pull, through the engine's discovery.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fakehub import COMMIT, FakeHub, sha256

from engine.errors import ModelFileError, OfflineError, UserInputError
from engine.models import load_lock
from engine.models.pull import STAGING, pull_model

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
REPO = "hgpt-test/tiny-vit"
INFO = {"pipeline_tag": "image-classification", "library_name": "transformers", "cardData": {"license": "mit"},
        "downloads": 1234}


@pytest.fixture(scope="module")
def vit_files(tmp_path_factory) -> dict[str, bytes]:
    from tiny_hf import build_vit

    folder = build_vit(tmp_path_factory.mktemp("vit"))
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def hf_online(monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # what an Engine with offline mode off puts back
    reset_sessions()
    yield
    monkeypatch.undo()
    reset_sessions()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    return folder


@pytest.fixture
def hub(vit_files, monkeypatch, hf_online, cache):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(cache.parent / "no-token"))
    monkeypatch.setattr("engine.models.pull.RETRY_PAUSE", 0.05)
    files = {(REPO, name): data for name, data in vit_files.items()}
    files[(REPO, "README.md")] = b"---\nlicense: mit\npipeline_tag: image-classification\n---\nA tiny ViT.\n"
    files[(REPO, "pytorch_model.bin")] = b"\x80\x02pickle" * 200  # a second copy hgpt must not fetch
    files[(REPO, "logo.png")] = b"\x89PNG" + b"0" * 2000
    with FakeHub(files, info={REPO: INFO}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def snapshot(cache: Path, commit: str = COMMIT) -> Path:
    return cache / f"models--{REPO.replace('/', '--')}" / "snapshots" / commit


def user_lock(hgpt_home: Path) -> str:
    return (hgpt_home / "models.lock").read_text()


def classify(cache: Path):
    """The pulled model found by discovery and run on the cat, as the engine would."""
    from engine.experts.base import ExpertContext
    from engine.experts.hf.discover import discover

    experts = {e.model_id: e for e in discover(cache)}
    expert = experts[REPO]
    assert expert.missing() is None
    return expert("image-classification", {"image": CHELSEA}, ExpertContext(cache.parent / "run"))


def test_any_model_id_is_pulled_pinned_and_runs(hub, cache, hgpt_home):
    report = pull_model(REPO, offline=False)
    assert report.commit == COMMIT and report.recorded == hgpt_home / "models.lock"
    names = sorted(p.file.path for p in report.files)
    assert names == ["README.md", "config.json", "model.safetensors", "preprocessor_config.json"]
    assert not hub.gets("pytorch_model.bin") and not hub.gets("logo.png")  # one copy of the weights only
    entry = load_lock().find(REPO)
    assert entry.revision == COMMIT and entry.extra["pinned"] == "trust on first use"
    assert {f.path: f.sha256 for f in entry.files}["model.safetensors"] == sha256(hub.files[(REPO, "model.safetensors")])
    assert all(len(f.sha256) == 64 and f.size > 0 for f in entry.files)
    assert entry.tasks == ("image-classification",) and entry.licence == "mit"
    assert (cache / f"models--{REPO.replace('/', '--')}" / "refs" / "main").read_text() == COMMIT
    assert not list((cache / STAGING).rglob("*.incomplete"))
    result = classify(cache)
    assert result.text and result.data["labels"]
    # a second pull fetches nothing and changes nothing
    before = len(hub.gets("/cdn/"))
    again = pull_model(REPO, offline=False)
    assert again.downloaded == 0 and again.recorded is None and len(hub.gets("/cdn/")) == before


def test_a_pulled_file_changed_on_disk_is_refused_at_load(hub, cache):
    pull_model(REPO, offline=False)
    blob = (snapshot(cache) / "model.safetensors").resolve()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match models.lock"):
        classify(cache)


def test_a_file_whose_hash_differs_on_a_second_pull_is_refused_and_nothing_is_installed(hub, cache, tmp_path,
                                                                                        monkeypatch):
    pull_model(REPO, offline=False)
    other = tmp_path / "other-cache"  # the same user lock, a fresh cache: the file is fetched again
    monkeypatch.setenv("HF_HUB_CACHE", str(other))
    config = hub.files[(REPO, "config.json")]
    hub.lie["config.json"] = config.replace(b'"vit"', b'"vxt"', 1)  # same size, other bytes
    assert len(hub.lie["config.json"]) == len(config) and hub.lie["config.json"] != config
    with pytest.raises(ModelFileError, match="recorded when .* was first pulled") as err:
        pull_model(REPO, offline=False)
    assert "deleted, nothing was installed" in str(err.value)
    assert not (other / f"models--{REPO.replace('/', '--')}" / "snapshots").exists()
    assert load_lock().find(REPO).revision == COMMIT  # the pin did not move


def test_a_revision_resolves_to_its_commit_and_moves_the_pin_only_when_asked(hub, cache, vit_files):
    first = pull_model(REPO, offline=False)
    files = {name: data for (repo, name), data in hub.files.items() if repo == REPO}
    files["config.json"] = files["config.json"].replace(b"}", b', "note": "v2"}', 1)
    newer = hub.commit(REPO, files)
    assert pull_model(REPO, offline=False).commit == first.commit  # no revision: the pinned commit
    moved = pull_model(f"{REPO}@main", offline=False)
    assert moved.commit == newer and moved.previous == COMMIT and load_lock().find(REPO).revision == newer
    back = pull_model(f"{REPO}@{COMMIT}", offline=False)
    assert back.commit == COMMIT and (snapshot(cache, newer) / "config.json").is_file()


@pytest.mark.parametrize("spec, message", [
    ("hgpt-test/no-such-model", "there is no model hgpt-test/no-such-model on the Hub"),
    (f"{REPO}@v9.9", "has no revision 'v9.9'"),
    ("not a model id", "is not a Hugging Face model id"),
    ("../etc/passwd", "is not a Hugging Face model id"),
])
def test_bad_ids_and_revisions_are_one_line_and_nothing_is_written(hub, cache, hgpt_home, spec, message):
    with pytest.raises((ModelFileError, UserInputError), match=message) as err:
        pull_model(spec, offline=False)
    assert "\n" not in str(err.value)
    assert not cache.exists() or not any(cache.glob("models--*"))
    assert not (hgpt_home / "models.lock").exists()


def test_remote_code_and_pickle_only_models_are_refused_before_download(hub, cache):
    hub.commit("acme/custom", {"config.json": b'{"auto_map": {"AutoModel": "modeling.MyModel"}}',
                               "modeling.py": b"import os", "model.safetensors": b"x" * 3000})
    hub.commit("acme/pickled", {"config.json": b"{}", "pytorch_model.bin": b"\x80\x02" * 2000})
    with pytest.raises(ModelFileError, match="needs its own Python code.*Nothing was downloaded"):
        pull_model("acme/custom", offline=False)
    with pytest.raises(ModelFileError, match="only pickled weights .*pytorch_model.bin.*Nothing was downloaded"):
        pull_model("acme/pickled", offline=False)
    assert not [r for r in hub.requests if "/resolve/" in r[1] or "/cdn/" in r[1]]


def test_a_gated_repo_needs_a_token(hub, cache, monkeypatch):
    hub.gate(REPO, "hf_secret")
    with pytest.raises(ModelFileError, match="is gated: accept its conditions.*log in"):
        pull_model(REPO, offline=False)
    assert not hub.gets("/resolve/")
    report = pull_model(REPO, offline=False, token="hf_secret")
    assert report.commit == COMMIT and load_lock().find(REPO).extra.get("gated") is True


def test_a_dropped_connection_resumes_with_a_range_request(hub, cache):
    weights = os.urandom(3 * 2**20 + 17)  # more than one 1 MB chunk, so the first try keeps some
    hub.commit("acme/big", {"config.json": b"{}", "model.safetensors": weights})
    hub.drop_once.add("model.safetensors")
    report = pull_model("acme/big", offline=False)
    gets = hub.gets(f"/cdn/{sha256(weights)}")
    assert len(gets) == 2 and gets[0][2] == "" and gets[1][2].startswith("bytes=") and gets[1][2] != "bytes=0-"
    assert [p.path.read_bytes() for p in report.files if p.file.path == "model.safetensors"] == [weights]


def test_a_full_disk_during_the_download_is_one_line_and_nothing_is_installed(hub, cache):
    """The staged file is /dev/full: the kernel answers ENOSPC to the download's writes."""
    digest = sha256(hub.files[(REPO, "model.safetensors")])
    incomplete = cache / STAGING / f"models--{REPO.replace('/', '--')}" / "blobs" / f"{digest}.incomplete"
    incomplete.parent.mkdir(parents=True)
    os.symlink("/dev/full", incomplete)
    with pytest.raises(ModelFileError, match="the disk filled up while downloading .*nothing was installed"):
        pull_model(REPO, offline=False)
    assert not snapshot(cache).exists() and not incomplete.is_symlink()


def test_too_little_free_disk_is_refused_before_downloading(hub, cache, monkeypatch):
    monkeypatch.setattr("engine.models.pull.free_bytes", lambda folder: 1000)
    with pytest.raises(ModelFileError, match="has 0.0 MB free; nothing was downloaded"):
        pull_model(REPO, offline=False)
    assert not hub.gets("/resolve/")


def test_the_hub_down_is_one_line(hub, cache):
    hub.fail = 500
    with pytest.raises(Exception, match="the Hub refused to describe") as err:
        pull_model(REPO, offline=False)
    assert "\n" not in str(err.value)


def test_offline_mode_refuses_any_id_in_one_line(cache, hub):
    with pytest.raises(OfflineError, match=f"offline mode is on, so {REPO} cannot be downloaded.*--online"):
        pull_model(REPO, offline=True)
    assert hub.requests == []


def test_a_locked_entry_without_hashes_is_pinned_on_first_pull(hub, cache, tmp_path, monkeypatch, hgpt_home):
    lock = tmp_path / "models.lock"
    lock.write_text(f"""version = 1
[models.tiny-vit]
source = "hf:{REPO}"
revision = "main"
tasks = ["image-classification"]
files = [{{path = "config.json", sha256 = "", size = 0}}, {{path = "model.safetensors", sha256 = "", size = 0}}]
""")
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(lock))
    report = pull_model("tiny-vit", offline=False)
    assert report.recorded == hgpt_home / "models.lock"
    entry = load_lock().find("tiny-vit")  # the shipped entry, with the pins of its first pull
    assert entry.revision == COMMIT and entry.fully_pinned and entry.extra["pinned"] == "trust on first use"
    from engine.models.verify import check_model

    assert check_model(entry).status == "verified"


def test_engine_pull_makes_an_expert_the_catalog_marks_installed_and_selection_offers(hub, cache, settings):
    from engine.plan.graph import Task
    from engine.select import candidates_for
    from engine.session import Engine

    engine = Engine(settings.with_(offline=False))
    assert REPO not in engine.registry
    progress = []
    model_id = engine.pull(REPO, progress=lambda done, total: progress.append((done, total)))
    assert model_id == REPO and REPO in engine.registry and engine.registry.get(REPO).missing() is None
    assert progress and progress[-1][0] == progress[-1][1] > 0
    assert engine.catalog.get(REPO)["installed"] is True
    task = Task(0, "image-classification", [-1], {"image": "chelsea.png"})
    assert REPO in [c["id"] for c in candidates_for(task, engine.registry, engine.catalog, 5)]


def test_cli_pulls_any_id_and_says_where_it_is_pinned(hub, cache, tmp_path):
    home = tmp_path / "cli-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HGPT_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(cache), NO_PROXY="127.0.0.1",
               HGPT_HOME=str(home), HF_TOKEN_PATH=str(tmp_path / "no-token"))
    done = subprocess.run([sys.executable, "-m", "engine.cli", "models", "pull", f"{REPO}@main", "--online"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{REPO}: 4 files" in done.stdout and f"pinned at commit {COMMIT[:12]}" in done.stdout
    assert str(home / "models.lock") in done.stdout
    refused = subprocess.run([sys.executable, "-m", "engine.cli", "models", "pull", "acme/nothing-here", "--online"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "there is no model acme/nothing-here on the Hub" in refused.stderr
