"""The remote controller against a real OpenAI-compatible server: llama-cpp-python's own
``llama_cpp.server`` serving the embedded SmolLM2 on loopback, with an API key. Grammar
support is detected (this server takes llama.cpp's ``grammar`` field), the planner plans
through it, and ``hgpt ask`` runs the showcase with it as the controller and the real
experts. The API key stays out of logs, reprs and the settings file's other readers."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from engine.controller import load_controller, probe_controller
from engine.controller.remote import RemoteController, RemoteControllerError
from engine.session import Engine

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
KEY = "sk-test-7f3a9c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from engine.controller.packs import embedded_gguf

    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_gguf()),
                                 "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", "4096", "--n_threads", "2", "--api_key", KEY, "--verbose", "False"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                request = urllib.request.Request(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
                urllib.request.urlopen(request, timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "llama_cpp.server did not start: " + log.read_text()
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_grammar_support_is_detected_and_honoured(llama_server):
    llm = RemoteController(llama_server, model="smollm2", api_key=KEY, grammar_mode="auto", offline=True)
    assert llm.accepts_grammar and not llm.accepts_schema and llm.grammar_mode == "gbnf"
    reply = llm.complete([{"role": "user", "content": "Pick a colour."}], grammar='root ::= "red" | "blue"',
                         max_tokens=4)
    assert reply in ("red", "blue")
    assert KEY not in repr(llm) and KEY not in llm.name


def test_test_connection_lists_the_model_and_the_grammar(llama_server, settings):
    found = probe_controller(settings.with_(controller=llama_server, controller_api_key=KEY))
    assert "smollm2" in found["models"] and found["grammar"] == "gbnf" and found["seconds"] > 0


def test_a_wrong_api_key_is_one_line(llama_server, settings):
    with pytest.raises(RemoteControllerError, match="refused the API key .*check it in Settings"):
        probe_controller(settings.with_(controller=llama_server, controller_api_key="wrong"))
    llm = RemoteController(llama_server, api_key="wrong", grammar_mode="gbnf")
    with pytest.raises(RemoteControllerError, match="HTTP 401.*check the API key in Settings"):
        llm.complete([{"role": "user", "content": "hi"}], max_tokens=2)


def test_the_planner_plans_through_the_server(llama_server, settings, caplog):
    caplog.set_level(logging.DEBUG)
    s = settings.with_(controller=llama_server, controller_model="smollm2", controller_api_key=KEY)
    engine = Engine(s)
    assert isinstance(engine.controller, RemoteController)
    plan, seconds, trace = engine.plan_only("What animal is in chelsea.png? Then say the answer out loud.",
                                            [CHELSEA])
    # one call under the whole-plan grammar (a server cannot continue a reply it did not begin): a valid
    # plan whose first task reads the picture; how many steps the 135M model writes is its own affair
    assert plan.tasks and plan.tasks[0].task == "image-classification" and trace.calls == 1
    assert all(t.task in ("image-classification", "text-to-speech") for t in plan.tasks)
    assert KEY not in caplog.text


@pytest.mark.slow
def test_hgpt_ask_runs_the_showcase_with_the_server_as_controller(llama_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HGPT_")}
    env.update(HGPT_HOME=str(tmp_path / "home"), HGPT_CONTROLLER_API_KEY=KEY, HGPT_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "engine.cli", "ask", "--json", "--controller", llama_server,
                           "What animal is in chelsea.png? Then say the answer out loud.", "--attach", str(CHELSEA)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    assert record["controller"].endswith("@127.0.0.1")
    tasks = [record["tasks"][str(t["id"])] for t in record["plan"]]
    assert tasks and all(t["status"] == "done" for t in tasks) and "cat" in tasks[0]["text"].lower()
    assert record["preflight"]["summary"]["controller_mb"] == 0  # the controller's memory is the server's
    assert KEY not in done.stdout + done.stderr


# -- the key at rest: OS keyring where there is one, else a 0600 settings file -------------------------------
def test_without_a_keyring_the_key_is_in_a_file_only_its_owner_reads(settings, monkeypatch):
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    s = settings.with_(controller="http://127.0.0.1:1", controller_api_key=KEY)
    s.save()
    assert oct(s.settings_file.stat().st_mode & 0o777) == "0o600"
    assert json.loads(s.settings_file.read_text())["controller_api_key"] == KEY
    from engine.settings import load_settings

    assert load_settings(s.home).controller_api_key == KEY
    assert KEY not in repr(load_settings(s.home))


def test_with_a_keyring_the_file_holds_only_a_marker(settings, monkeypatch):
    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        store: dict = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    ring = Memory()
    monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
    monkeypatch.setattr(keyring, "get_password", ring.get_password)
    monkeypatch.setattr(keyring, "set_password", ring.set_password)
    monkeypatch.setattr(keyring, "delete_password", ring.delete_password)
    s = settings.with_(controller_api_key=KEY, remote_token="hf_tok")
    s.save()
    text = s.settings_file.read_text()
    assert KEY not in text and "hf_tok" not in text and json.loads(text)["controller_api_key"] == "keyring:"
    from engine.settings import load_settings

    again = load_settings(s.home)
    assert (again.controller_api_key, again.remote_token) == (KEY, "hf_tok")
    s.with_(controller_api_key="").save()
    assert not [k for k in ring.store if k[1].startswith("controller_api_key@")]


def test_load_controller_passes_model_key_and_grammar(settings):
    llm = load_controller(settings.with_(controller="http://127.0.0.1:1/v1", controller_model="m",
                                         controller_api_key=KEY, controller_grammar="json_schema"))
    assert (llm.model, llm.grammar_mode, llm.accepts_schema, llm.accepts_grammar) == ("m", "json_schema", True, False)
    assert llm._headers() == {"Authorization": f"Bearer {KEY}"}
