"""``pull`` against a local server that answers like the Hugging Face Hub (tests/fakehub.py).

huggingface_hub is pointed at it with ``HF_ENDPOINT``; nothing leaves the machine.
Resume, hash mismatch, offline refusal and Ctrl-C are each exercised for real.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fakehub import COMMIT, FakeHub, sha256

from engine.cancel import CancelToken
from engine.errors import Cancelled, ModelFileError, OfflineError, UserInputError
from engine.models import load_lock
from engine.models.pull import STAGING, pull

ROOT = Path(__file__).resolve().parents[1]
REPO = "hgpt-test/tiny-model"
CONFIG = b'{"model_type": "tiny", "hidden_size": 8}\n'
WEIGHTS = random.Random(0).randbytes(3 * 2**20 + 123)


LOCK = f"""
version = 1

[models.tiny-model]
source = "hf:{REPO}"
revision = "main"
tasks = ["image-classification"]
licence = "MIT"
verified = true
files = [{{path = "config.json", sha256 = "{sha256(CONFIG)}", size = {len(CONFIG)}}},
         {{path = "weights/model.bin", sha256 = "{sha256(WEIGHTS)}", size = {len(WEIGHTS)}}}]

[models.tiny-unpinned]
source = "hf:{REPO}"
revision = "main"
tasks = ["image-classification"]
licence = "MIT"
files = [{{path = "config.json", sha256 = "", size = 0}}]

[models.tiny-wrong-pin]
source = "hf:{REPO}"
revision = "main"
tasks = ["image-classification"]
licence = "MIT"
files = [{{path = "weights/model.bin", sha256 = "{'ab' * 32}", size = 0}}]

[models.tiny-missing-file]
source = "hf:{REPO}"
revision = "main"
tasks = ["image-classification"]
licence = "MIT"
files = [{{path = "not-there.bin", sha256 = "", size = 0}}]

[models.a-pack]
source = "pypi:some-pack==1.0"
tasks = ["image-classification"]
licence = "MIT"
files = [{{path = "some_pack/w.bin", sha256 = "", size = 0}}]
"""


@pytest.fixture
def hf_offline(monkeypatch):
    """Set huggingface_hub's own offline switch (read once at import) for one test."""
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    def switch(value: bool) -> None:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", value)
        reset_sessions()  # sessions are cached, and built for the mode at their creation

    yield switch
    monkeypatch.undo()
    reset_sessions()


@pytest.fixture
def hub(monkeypatch, hf_offline):
    hf_offline(False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr("engine.models.pull.RETRY_PAUSE", 0.05)
    with FakeHub({(REPO, "config.json"): CONFIG, (REPO, "weights/model.bin"): WEIGHTS}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


@pytest.fixture
def lock_file(tmp_path, monkeypatch):
    path = tmp_path / "models.lock"
    path.write_text(LOCK)
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(folder))
    return folder


def snapshot(cache: Path) -> Path:
    return cache / "models--hgpt-test--tiny-model" / "snapshots" / COMMIT


class RecordingBar:
    """A tqdm-like class the caller passes; keeps what it was told."""

    made: list["RecordingBar"] = []

    def __init__(self, total=None, initial=0, desc="", **kwargs):
        self.total, self.n, self.desc, self.closed = total, initial, desc, False
        self.updates: list[int] = []
        RecordingBar.made.append(self)

    def update(self, n):
        self.updates.append(n)
        self.n += n

    def close(self):
        self.closed = True


def test_pull_places_verified_files_in_the_hub_cache_layout(hub, lock_file, cache):
    RecordingBar.made.clear()
    pulled = pull("tiny-model", offline=False, tqdm_class=RecordingBar)
    assert [p.downloaded for p in pulled] == [True, True]
    weights = snapshot(cache) / "weights" / "model.bin"
    assert weights.read_bytes() == WEIGHTS and weights.is_symlink()
    assert weights.resolve() == cache / "models--hgpt-test--tiny-model" / "blobs" / sha256(WEIGHTS)
    assert (cache / "models--hgpt-test--tiny-model" / "refs" / "main").read_text() == COMMIT
    assert not list((cache / STAGING).rglob("*.incomplete"))
    bar = next(b for b in RecordingBar.made if b.desc == "weights/model.bin")
    assert bar.total == len(WEIGHTS) and bar.n == len(WEIGHTS) and bar.closed
    # huggingface_hub itself finds it offline, where transformers would look
    from huggingface_hub import try_to_load_from_cache

    assert try_to_load_from_cache(REPO, "weights/model.bin", cache_dir=cache) == str(weights)
    from engine.models import verify

    assert verify(load_lock(), ["tiny-model"])[0].status == "verified"
    # a second pull downloads nothing
    before = len(hub.gets("/cdn/"))
    assert [p.downloaded for p in pull("tiny-model", offline=False)] == [False, False]
    assert len(hub.gets("/cdn/")) == before


def test_pull_resumes_after_the_connection_drops(hub, lock_file, cache):
    hub.drop_once.add("weights/model.bin")
    pull("tiny-model", offline=False)
    cdn = hub.gets(f"/cdn/{sha256(WEIGHTS)}")
    assert len(cdn) == 2
    assert cdn[0][2] == "" and cdn[1][2].startswith("bytes=") and int(cdn[1][2][6:].rstrip("-")) > 0
    assert (snapshot(cache) / "weights" / "model.bin").read_bytes() == WEIGHTS


def incomplete_weights(cache: Path) -> Path:
    """Where a pull stages the weights while they download (kept on cancel, for resume)."""
    return cache / STAGING / "models--hgpt-test--tiny-model" / "blobs" / f"{sha256(WEIGHTS)}.incomplete"


def wait_for_bytes(path: Path, size: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size >= size):
        assert time.monotonic() < deadline, f"{path} did not reach {size} bytes"
        time.sleep(0.02)


def test_a_cancel_stops_the_download_mid_file_and_the_next_pull_resumes(hub, lock_file, cache):
    hub.delay = 0.05  # 64 KiB every 50 ms: about 2.5 s for the weights
    cancel, outcome = CancelToken(), {}

    def run():
        try:
            outcome["pulled"] = pull("tiny-model", offline=False, cancel=cancel)
        except Exception as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    incomplete = incomplete_weights(cache)
    wait_for_bytes(incomplete, 2**20)
    cancel.cancel()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the pull went on after cancel"
    assert isinstance(outcome.get("error"), Cancelled), outcome
    assert "tiny-model was cancelled" in str(outcome["error"]) and "resume" in str(outcome["error"])
    partial = incomplete.stat().st_size
    assert 0 < partial < len(WEIGHTS)
    time.sleep(0.3)
    assert incomplete.stat().st_size == partial  # nothing writes on in the background
    assert not (snapshot(cache) / "weights" / "model.bin").exists()
    assert not list((cache / "models--hgpt-test--tiny-model").rglob(sha256(WEIGHTS)))

    hub.delay = 0.0
    assert [p.downloaded for p in pull("tiny-model", offline=False)] == [False, True]
    assert hub.gets(f"/cdn/{sha256(WEIGHTS)}")[-1][2] == f"bytes={partial}-"
    assert (snapshot(cache) / "weights" / "model.bin").read_bytes() == WEIGHTS
    assert not incomplete.exists()


def test_only_the_thread_running_a_pull_is_made_cancellable():
    """The hook in huggingface_hub's progress bars checks the token of the pull running
    in *this* thread; other threads' downloads, and later ones, are left alone."""
    from huggingface_hub import file_download

    from engine.models.interrupt import cancellable

    def count_one_chunk() -> list:
        seen = []
        with file_download._get_progress_bar_context(desc="f", log_level=30, _tqdm_bar=RecordingBar()) as bar:
            bar.update(1)
            seen.append(bar.n)
        return seen

    token = CancelToken()
    token.cancel()
    with cancellable(token) as available:
        assert available
        with pytest.raises(Cancelled):
            count_one_chunk()
        elsewhere = []
        other = threading.Thread(target=lambda: elsewhere.extend(count_one_chunk()))
        other.start()
        other.join()
        assert elsewhere == [1]
    assert count_one_chunk() == [1]


def test_a_file_that_does_not_match_the_lock_is_refused_and_nothing_is_left(hub, lock_file, cache):
    hub.lie["weights/model.bin"] = WEIGHTS[:-1] + b"\0"  # same size and ETag, other bytes
    with pytest.raises(ModelFileError, match="does not match|pins") as err:
        pull("tiny-model", offline=False)
    assert "deleted" in str(err.value)
    assert not (snapshot(cache) / "weights" / "model.bin").exists()
    assert not list((cache / "models--hgpt-test--tiny-model").rglob(sha256(WEIGHTS)))
    leftovers = [p for p in (cache / STAGING).rglob("*") if p.suffix != ".lock"]  # locks are empty files
    assert not [p for p in leftovers if sha256(WEIGHTS) in p.name or p.name == "model.bin"]


def test_a_pin_the_server_contradicts_is_refused_before_downloading(hub, lock_file, cache):
    with pytest.raises(ModelFileError, match="nothing was downloaded"):
        pull("tiny-wrong-pin", offline=False)
    assert hub.gets("/cdn/") == []


def test_unpinned_files_are_pulled_and_reported_unverifiable(hub, lock_file, cache, monkeypatch):
    monkeypatch.setenv("HGPT_OFFLINE", "0")  # offline mode off through the environment
    pull("tiny-unpinned")
    from engine.models import verify

    assert verify(load_lock(), ["tiny-unpinned"])[0].status == "unverifiable"


def test_a_file_missing_upstream_says_the_lock_is_stale(hub, lock_file, cache):
    with pytest.raises(ModelFileError, match="has no file 'not-there.bin'"):
        pull("tiny-missing-file", offline=False)


def test_pypi_packs_are_not_pulled(lock_file, cache):
    with pytest.raises(UserInputError, match="pip install --no-deps --force-reinstall some-pack==1.0"):
        pull("a-pack", offline=False)


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_offline_mode_refuses_before_any_socket(lock_file, cache, no_network, monkeypatch):
    monkeypatch.delenv("HGPT_OFFLINE", raising=False)
    with pytest.raises(OfflineError, match="--online"):
        pull("tiny-model")  # settings().offline is on by default
    with pytest.raises(OfflineError):
        pull("tiny-model", offline=True)
    assert not cache.exists()


def test_hf_hub_offline_is_reported_as_such(lock_file, cache, no_network, hf_offline):
    hf_offline(True)
    with pytest.raises(OfflineError, match="HF_HUB_OFFLINE"):
        pull("tiny-model", offline=False)


# -- through the CLI, in a real process ------------------------------------------------
def _cli_env(hub, lock_file, cache, home) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HGPT_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0", HF_HUB_CACHE=str(cache), NO_PROXY="127.0.0.1",
               HGPT_MODELS_LOCK=str(lock_file), HGPT_HOME=str(home), PYTHONUNBUFFERED="1")
    return env


def test_cli_pull_needs_online(lock_file, cache, no_network, capsys):
    from engine.cli import main

    assert main(["models", "pull", "tiny-model"]) == 2
    assert "--online" in capsys.readouterr().err


def test_cli_ctrl_c_cancels_cleanly_and_the_next_pull_resumes(hub, lock_file, cache, tmp_path):
    hub.delay = 0.05  # about 2.5 s for the weights
    env = _cli_env(hub, lock_file, cache, tmp_path / "home")
    cmd = [sys.executable, "-m", "engine.cli", "models", "pull", "tiny-model", "--online"]
    # Ctrl-C as in a terminal: a child started while SIGINT is ignored here (something in a
    # long test run may leave it so) would ignore it too, and Python would never raise it
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)
    incomplete = cache / STAGING / "models--hgpt-test--tiny-model" / "blobs" / f"{sha256(WEIGHTS)}.incomplete"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not incomplete.exists() or incomplete.stat().st_size < 2**20):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "cancelled" in err and "resume" in err
    assert not (snapshot(cache) / "weights" / "model.bin").exists()
    partial = incomplete.stat().st_size
    assert 0 < partial < len(WEIGHTS)

    hub.delay = 0.0
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (snapshot(cache) / "weights" / "model.bin").read_bytes() == WEIGHTS
    assert hub.gets(f"/cdn/{sha256(WEIGHTS)}")[-1][2] == f"bytes={partial}-"
    assert "model.bin" in done.stderr  # the progress bar went to stderr
    assert f"2 files (3.0 MB), 1 downloaded, in {snapshot(cache)}" in done.stdout
