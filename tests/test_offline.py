"""Offline means offline: the guard's parts, and a whole real run under a socket block.

The end-to-end test runs the showcase request with the real SmolLM2 controller, the
real catalog and registry and the real experts, inside ``block_network()``, and
asserts that nothing asked for a non-loopback address."""

from __future__ import annotations

import os
import socket
import threading
import wave
from pathlib import Path

import pytest

from engine import events as ev
from engine import offline
from engine.errors import OfflineError

ROOT = Path(__file__).resolve().parents[1]
SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


@pytest.fixture
def restore_offline():
    before = offline.is_enforced()
    saved = {k: os.environ.get(k) for k in offline.OFFLINE_ENV}
    yield
    offline.enforce(before)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST.", True), ("app.localhost", True), ("::ffff:127.0.0.1", True), (None, True), ("", True),
    ("huggingface.co", False), ("93.184.216.34", False), ("10.0.0.1", False), ("2606:4700::1", False),
    ("127.0.0.1.nip.io", False), ("0.0.0.0", False),
])
def test_loopback_is_recognised(host, expected):
    assert offline.is_loopback(host) is expected


def test_block_network_refuses_and_records_non_loopback_attempts():
    with offline.block_network() as log:
        with pytest.raises(OfflineError, match="offline mode is on.*HGPT_OFFLINE=0"):
            socket.create_connection(("93.184.216.34", 443), timeout=1)
        with pytest.raises(OfflineError):
            socket.getaddrinfo("huggingface.co", 443)
        with socket.socket() as s, pytest.raises(OfflineError):
            s.connect(("10.1.2.3", 80))
    assert [call for call, _ in log.refused] == ["create_connection", "getaddrinfo", "connect"]
    assert socket.create_connection.__module__ == "socket"  # the real functions are back


def test_block_network_lets_loopback_through():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = threading.Thread(target=lambda: server.accept()[0].sendall(b"hi"), daemon=True)
    accepted.start()
    with offline.block_network() as log, socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        assert c.recv(2) == b"hi"
    server.close()
    assert not log.refused and log.loopback


def test_enforce_sets_the_libraries_switches_and_the_audit_hook_refuses(restore_offline):
    import huggingface_hub.constants as hub_constants

    offline.enforce(True)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert hub_constants.HF_HUB_OFFLINE is True
    with socket.socket() as s, pytest.raises(OfflineError, match="does not connect to 10.9.8.7:80"):
        s.connect(("10.9.8.7", 80))  # refused by the audit hook before any packet leaves
    with pytest.raises(OfflineError):
        socket.getaddrinfo("example.org", 80)


def test_enforce_false_puts_back_what_was_there(restore_offline, monkeypatch):
    offline.enforce(False)  # from a clean state: nothing of an earlier engine's remembered
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setenv("DO_NOT_TRACK", "0")
    offline.enforce(True)
    assert os.environ["DO_NOT_TRACK"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"
    offline.enforce(False)
    assert os.environ["DO_NOT_TRACK"] == "0" and "HF_DATASETS_OFFLINE" not in os.environ
    assert not offline.is_enforced()
    offline._audit("socket.getaddrinfo", ("example.org", 80, 0, 0, 0))  # lets it through


def test_an_engine_applies_its_offline_setting(settings, restore_offline):
    from engine.session import Engine

    Engine(settings.with_(offline=False))
    assert not offline.is_enforced()
    Engine(settings)
    assert offline.is_enforced() and os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.slow
def test_the_showcase_end_to_end_opens_no_socket_beyond_loopback(settings, llm):
    from engine.session import Engine

    engine = Engine(settings, controller=llm)
    with offline.block_network() as log:
        events = list(engine.run(SHOWCASE, [ROOT / "samples" / "chelsea.png"]))
    assert log.refused == [], f"non-loopback connections were attempted: {log.refused}"
    assert isinstance(events[-1], ev.AnswerDone), events[-1]
    record = events[-1].record
    assert record["plan"], "the controller planned no task; the run still stayed offline"
    failed = {k: v for k, v in record["tasks"].items() if v["status"] != "done"}
    assert not failed, failed
    tasks = [t["task"] for t in record["plan"]]
    if tasks == ["image-classification", "text-to-speech"]:  # the showcase plan
        assert "cat" in record["tasks"]["0"]["text"].lower()
        with wave.open(record["tasks"]["1"]["files"][0]) as w:
            assert w.getnframes() > 0


def test_local_socket_families_are_not_the_network(restore_offline, tmp_path):
    offline.enforce(True)
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "s"))
    server.listen(1)
    with offline.block_network() as log, socket.socket(socket.AF_UNIX) as client:
        client.connect(str(tmp_path / "s"))
    server.close()
    assert not log.refused
