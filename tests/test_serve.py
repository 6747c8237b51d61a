"""`hgpt serve` around the engine, with real clients (httpx, the official openai package,
huggingface_hub's InferenceClient, the official mcp SDK) against a real uvicorn server.

The controller and experts here are small in-test stand-ins (tests/_serve.py): these
tests are about the server — shapes, the queue, cancellation, security. The same
clients against the real SmolLM2 and real experts are in test_serve_real.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from _serve import data_url, fake_engine, png_bytes, served, wav_bytes

ROOT = Path(__file__).resolve().parents[1]
KEY = "k3y-for-tests-0123456789abcdef"


@pytest.fixture
def engine(settings):
    engine, _ = fake_engine(settings)
    return engine


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# -- HuggingGPT's endpoints (httpx) ---------------------------------------------------------------
def test_hugginggpt_answers_as_the_reference_server_does(engine):
    with served(engine) as url:
        r = httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": "shout it"}],
                                                   "api_key": "sk-ignored", "api_type": "openai"}, timeout=60)
        assert r.status_code == 200, r.text
        message = r.json()["message"]
        assert message.startswith("Hello from the fake controller.")
        assert "test/upper" in message and "test/voice" in message
        wav = next(w for w in message.split() if w.startswith("/v1/files/")).rstrip(".")
        assert httpx.get(url + wav).content[:4] == b"RIFF"  # the reference web client prefixes the base URL
        assert str(engine.settings.home) not in message  # no folder of the server's machine


def test_tasks_is_the_plan_only_and_results_are_keyed_by_task(engine):
    with served(engine) as url:
        body = {"messages": [{"role": "user", "content": "shout it"}]}
        plan = httpx.post(f"{url}/tasks", json=body, timeout=60).json()
        assert plan == [{"task": "translation", "id": 0, "dep": [-1], "args": {"text": "hi there"}},
                        {"task": "text-to-speech", "id": 1, "dep": [0], "args": {"text": "<resource>-0"}}]
        assert engine.history.runs() == []  # planning alone is not a run
        results = httpx.post(f"{url}/results", json=body, timeout=60).json()
    assert set(results) == {"0", "1"}
    first, second = results["0"], results["1"]
    assert first["task"] == plan[0]
    assert first["inference result"]["generated text"] == "HI THERE"
    assert first["choose model result"]["id"] == "test/upper" and first["choose model result"]["reason"]
    assert second["inference result"]["generated audio"].startswith("/v1/files/")
    assert second["inference result"]["data"] == {"chars": len("HI THERE")}


def test_earlier_messages_are_the_chat_log(engine, settings):
    with served(engine) as url:
        first = httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": "shout it"}]},
                           timeout=60).json()["message"]
        r = httpx.post(f"{url}/hugginggpt", timeout=60, json={"messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": "shout it"}, {"role": "assistant", "content": first},
            {"role": "user", "content": "and now?"}]})
        assert r.status_code == 200, r.text
    runs = engine.history.runs()
    assert len(runs) == 2
    # the WAV the first answer linked came with its turn into the second run's inputs
    second = next(r for r in runs if r.request == "and now?")
    assert any(p.suffix == ".wav" for p in (Path(second.run_dir) / "inputs").iterdir())


# -- OpenAI-compatible /v1 (the official openai package) --------------------------------------------
def test_openai_package_chat_with_and_without_stream(engine):
    from openai import OpenAI

    with served(engine) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["hgpt"]
        reply = client.chat.completions.create(model="hgpt", messages=[{"role": "user", "content": "shout it"}])
        text = reply.choices[0].message.content
        run = reply.model_extra["hgpt"]
        assert reply.choices[0].finish_reason == "stop" and text.startswith("Hello from the fake controller.")
        assert [t["task"] for t in run["plan"]] == ["translation", "text-to-speech"]
        assert run["results"][0]["text"] == "HI THERE" and run["timings"]["total"] > 0
        assert run["files"] and all(f.startswith(f"{url}/v1/files/{run['run_id']}/") for f in run["files"])
        assert run["files"][0] in text
        got = httpx.get(run["files"][0])
        assert got.status_code == 200 and got.headers["content-type"] == "audio/wav"

        pieces, kinds, final = [], [], None
        for chunk in client.chat.completions.create(model="hgpt", stream=True,
                                                    messages=[{"role": "user", "content": "shout it"}]):
            delta = chunk.choices[0].delta.content if chunk.choices else None
            pieces.append(delta or "")
            event = (chunk.model_extra.get("hgpt") or {}).get("event")
            kinds.append(event["kind"] if event else None)
            if chunk.choices and chunk.choices[0].finish_reason == "stop":
                final = chunk.model_extra["hgpt"]
    streamed = "".join(pieces)
    assert streamed.startswith("Hello from the fake controller.")
    assert streamed.replace(final["run_id"], "") == text.replace(run["run_id"], "")  # same answer, either way
    for kind in ("RunStarted", "PlanReady", "ModelSelected", "TaskFinished"):  # (TaskStarted: unless cached)
        assert kind in kinds, str(kinds)
    assert kinds.index("PlanReady") < kinds.index("TaskFinished")
    assert final["status"] == "done" and final["results"][1]["files"]


def test_openai_image_as_content_part_reaches_the_expert(engine):
    from openai import OpenAI

    with served(engine) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="hgpt", messages=[{"role": "user", "content": [
            {"type": "text", "text": "look at this picture"},
            {"type": "image_url", "image_url": {"url": data_url(png_bytes(colour=(10, 20, 240)), "image/png")}}]}])
    run = reply.model_extra["hgpt"]
    assert run["results"][0]["task"] == "image-classification"
    assert run["results"][0]["text"] == "blue"
    assert run["results"][0]["args"] == {"image": "upload-1.png"}


def test_audio_and_file_parts_are_attachments(engine):
    with served(engine) as url:
        r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={"model": "hgpt", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is in these"},
                {"type": "input_audio", "input_audio": {"data": base64.b64encode(wav_bytes()).decode(),
                                                        "format": "wav"}},
                {"type": "file", "file": {"file_data": data_url(png_bytes(), "image/png"),
                                          "filename": "chelsea.png"}}]}]})
        assert r.status_code == 200, r.text
        run_id = r.json()["hgpt"]["run_id"]
    inputs = sorted(p.name for p in (engine.settings.runs_dir / run_id / "inputs").iterdir())
    assert inputs == ["chelsea.png", "upload-1.wav"]


def test_a_text_file_part_is_read_into_the_text_slot(engine):
    with served(engine) as url:
        text = "Meeting moved to noon, bring the slides. Café at 3."
        r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={"model": "hgpt", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "uppercase this"},
                {"type": "file", "file": {"file_data": data_url(text.encode("utf-8"), "text/plain")}}]}]})
        assert r.status_code == 200, r.text
        run = r.json()["hgpt"]
        assert run["results"][0]["args"] == {"text": "upload-1.txt"}
        assert run["results"][0]["text"] == text.upper()
        # a named Markdown file keeps its name; a file that is not UTF-8 text is a clear 4xx
        r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={"model": "hgpt", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "uppercase this"},
                {"type": "file", "file": {"file_data": data_url(b"# Notes\nbuy milk", "text/markdown"),
                                          "filename": "notes.md"}}]}]})
        assert r.status_code == 200 and r.json()["hgpt"]["results"][0]["text"] == "# NOTES\nBUY MILK"
        r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={"model": "hgpt", "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "uppercase this"},
                {"type": "file", "file": {"file_data": data_url(b"\xff\xfe\x00bad", "text/plain")}}]}]})
        assert 400 <= r.status_code < 500 and "UTF-8" in r.text, r.text


# -- every run is recorded; the queue; cancellation -------------------------------------------------
def test_every_request_is_one_recorded_run(engine):
    with served(engine) as url:
        for content in ("shout it", "hello", "shout again"):
            assert httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": content}]},
                              timeout=60).status_code == 200
    runs = engine.history.runs()
    assert sorted(r.request for r in runs) == ["hello", "shout again", "shout it"]
    assert {r.status for r in runs} == {"done"}
    assert len({r.conversation_id for r in runs}) == 3  # each request its own conversation


def test_a_full_queue_answers_503_with_retry_after(settings):
    engine, controller = fake_engine(settings)
    from openai import APIStatusError, OpenAI

    with served(engine, running=1, waiting=1) as url:
        results = []

        def hold():
            results.append(httpx.post(f"{url}/v1/chat/completions", timeout=60,
                                      json={"model": "hgpt", "messages": [{"role": "user", "content": "hold on"}]}))

        threads = [threading.Thread(target=hold) for _ in range(2)]
        for t in threads:
            t.start()
        assert wait_for(lambda: controller.holding == 1)  # one runs, one waits for its slot
        assert wait_for(lambda: httpx.get(f"{url}/health").json()["queue"] == {
            "running": 1, "waiting": 1, "slots": 1, "queue": 1})
        r = httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": "hello"}]})
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1
        assert "busy" in r.json()["error"]["message"]
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(APIStatusError) as info:
            client.chat.completions.create(model="hgpt", messages=[{"role": "user", "content": "hello"}])
        assert info.value.status_code == 503
        time.sleep(1.0)
        controller.release.set()
        for t in threads:
            t.join(60)
    assert [r.status_code for r in results] == [200, 200]
    # the answer says how long it waited for its slot (the engine's own timings leave that out)
    first, second = sorted(r.json()["hgpt"]["queued"] for r in results)
    assert first < 0.5 and second >= 1.0
    assert len(engine.history.runs()) == 2  # the refused requests never became runs


def _run_statuses(engine):
    return sorted(r.status for r in engine.history.runs())


def test_a_client_that_disconnects_cancels_its_run(settings):
    engine, controller = fake_engine(settings)
    with served(engine) as url:
        # streaming: read the first chunk, then go away
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=60,
                          json={"model": "hgpt", "stream": True,
                                "messages": [{"role": "user", "content": "hold on"}]}) as r:
            next(r.iter_lines())
        assert wait_for(lambda: _run_statuses(engine) == ["cancelled"]), _run_statuses(engine)
        # not streaming: the client gives up waiting
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/hugginggpt", timeout=1.5, json={"messages": [{"role": "user", "content": "hold it"}]})
        assert wait_for(lambda: _run_statuses(engine) == ["cancelled", "cancelled"]), _run_statuses(engine)
        assert controller.holding == 0
        assert httpx.get(f"{url}/health").json()["queue"]["running"] == 0


def test_a_client_that_leaves_while_planning_stops_the_plan(settings):
    engine, controller = fake_engine(settings)
    with served(engine) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/tasks", timeout=1.5, json={"messages": [{"role": "user", "content": "ponder it"}]})
        assert controller.holding == 1  # still planning when the client left
        # stopped within the controller's call (it would hold 60 s), its slot given back
        assert wait_for(lambda: controller.holding == 0, timeout=10)
        assert wait_for(lambda: httpx.get(f"{url}/health").json()["queue"]["running"] == 0, timeout=5)
    assert engine.history.runs() == []


def test_an_mcp_client_that_gives_up_cancels_its_run(settings):
    """The client's timeout sends notifications/cancelled; the server stops the run."""
    from mcp import Client

    engine, controller = fake_engine(settings)

    async def session(url):
        async with Client(f"{url}/mcp") as client:
            with pytest.raises(Exception):
                await client.call_tool("ask", {"request": "hold on"}, read_timeout_seconds=1.5)
            return await client.call_tool("translation", {"text": "still here"})

    with served(engine) as url:
        after = asyncio.run(session(url))
        assert wait_for(lambda: _run_statuses(engine) == ["cancelled"]), _run_statuses(engine)
        assert controller.holding == 0
        assert httpx.get(f"{url}/health").json()["queue"]["running"] == 0
    assert after.content[0].text == "STILL HERE"  # the session goes on after a cancelled call


# -- the experts over the Hugging Face inference protocol --------------------------------------------
def test_huggingface_inference_client_calls_an_expert(engine, monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub import InferenceClient
    from huggingface_hub.utils import reset_sessions

    # huggingface_hub's own offline switch (which the engine turns on) refuses even loopback;
    # the engine's socket guard still refuses anything else
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    reset_sessions()

    with served(engine) as url:
        client = InferenceClient(model=f"{url}/models/test/colour")
        labels = client.image_classification(png_bytes(colour=(20, 230, 30)))
        assert labels[0].label == "green" and labels[0].score > 0.5
        translated = InferenceClient(model=f"{url}/models/test/upper").translation("hi there")
        assert translated.translation_text == "HI THERE"
        speech = InferenceClient(model=f"{url}/models/test/voice").text_to_speech("abc")
        assert speech[:4] == b"RIFF"


def test_model_routes_and_their_errors(engine):
    with served(engine) as url:
        listed = {m["id"]: m for m in httpx.get(f"{url}/models").json()}
        assert listed["test/upper"]["tasks"] == ["translation"] and listed["test/upper"]["available"]
        assert httpx.get(f"{url}/status/test/upper").json() == {"loaded": False}
        r = httpx.post(f"{url}/models/test/upper/pipeline/translation", json={"inputs": "abc"})
        assert r.json() == [{"translation_text": "ABC"}] and r.headers["x-hgpt-task"] == "translation"
        assert httpx.get(f"{url}/status/test/upper").json() == {"loaded": True}
        r = httpx.post(f"{url}/pipeline/image-classification", content=png_bytes(colour=(250, 0, 0)),
                       headers={"content-type": "image/png"})
        assert r.json()[0]["label"] == "red"
        r = httpx.post(f"{url}/models/test/colour?format=hgpt", json={"inputs": data_url(png_bytes(), "image/png")})
        assert r.json()["text"] == "red" and r.json()["model_id"] == "test/colour"
        assert httpx.post(f"{url}/models/no/such", json={"inputs": "x"}).status_code == 404
        r = httpx.post(f"{url}/models/test/upper/pipeline/image-classification", json={"inputs": "x"})
        assert r.status_code == 404 and "does not do image-classification" in r.json()["error"]["message"]
        r = httpx.post(f"{url}/models/test/colour", json={"inputs": "/etc/passwd"})
        assert r.status_code == 400 and "path on this machine" in r.json()["error"]["message"]
        r = httpx.post(f"{url}/models/test/colour", json={"img_url": "https://example.com/cat.png"})
        assert r.status_code == 400 and "does not fetch URLs" in r.json()["error"]["message"]


# -- MCP over streamable HTTP (the official SDK client) ----------------------------------------------
def test_mcp_client_over_http_lists_and_calls_tools(engine):
    from mcp import Client

    async def session(url):
        async with Client(f"{url}/mcp") as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            translated = await client.call_tool("translation", {"text": "hi there"})
            colour = await client.call_tool("image_classification",
                                            {"image": base64.b64encode(png_bytes(colour=(0, 0, 255))).decode()})
            asked = await client.call_tool("ask", {"request": "shout it"})
            planned = await client.call_tool("plan", {"request": "shout it"})
            bad = await client.call_tool("image_classification", {"image": "/etc/passwd"})
            uri = asked.structured_content["files"][0]
            read = await client.read_resource(uri)
            return tools, translated, colour, asked, planned, bad, read

    with served(engine) as url:
        tools, translated, colour, asked, planned, bad, read = asyncio.run(session(url))
    assert {"ask", "plan", "translation", "text_to_speech", "image_classification"} <= set(tools)
    schema = tools["image_classification"].input_schema
    assert schema["required"] == ["image"] and schema["properties"]["model"]["enum"] == ["test/colour"]
    assert tools["ask"].input_schema["required"] == ["request"]
    assert translated.content[0].text == "HI THERE" and not translated.is_error
    assert colour.structured_content["text"] == "blue"
    assert asked.content[0].text.startswith("Hello from the fake controller.")
    assert any(c.type == "audio" and c.mime_type == "audio/wav" for c in asked.content)
    assert [t["task"] for t in planned.structured_content["tasks"]] == ["translation", "text-to-speech"]
    assert bad.is_error and "path on this machine" in bad.content[0].text
    assert base64.b64decode(read.contents[0].blob)[:4] == b"RIFF"
    assert len(engine.history.runs()) == 1  # ask is a run; plan and the task tools are not


# -- security --------------------------------------------------------------------------------------
def test_another_host_needs_a_key():
    from engine import ServeConfig, errors

    with pytest.raises(errors.UserInputError, match="API key"):
        ServeConfig(host="0.0.0.0").check()
    ServeConfig(host="0.0.0.0", api_key=KEY).check()
    with pytest.raises(errors.UserInputError, match="shorter than 16"):
        ServeConfig(host="0.0.0.0", api_key="short").check()
    proc = subprocess.run([sys.executable, "-m", "engine.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "set an API key" in proc.stderr and proc.stderr.count("\n") == 1


def test_the_key_is_checked_in_constant_time_and_never_shown(engine, monkeypatch, caplog, capfd):
    import hmac

    from openai import AuthenticationError, OpenAI

    from engine import ServeConfig, environment

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(1) or real(a, b))
    monkeypatch.setenv("HGPT_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    assert KEY not in repr(ServeConfig(api_key=KEY)) and KEY not in repr(environment())
    with served(engine, api_key=KEY) as url:
        assert httpx.get(f"{url}/health").status_code == 200  # open: says only that it is alive
        for headers in ({}, {"authorization": "Bearer wrong-key-0123456789"}, {"x-api-key": KEY[:-1]}):
            r = httpx.get(f"{url}/v1/models", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(f"{url}/v1/models", headers={"x-api-key": KEY}).status_code == 200
        with pytest.raises(AuthenticationError):
            OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0).models.list()
        reply = OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0).chat.completions.create(
            model="hgpt", messages=[{"role": "user", "content": "hello"}])
        assert reply.choices[0].message.content
    assert compared  # the comparison went through hmac.compare_digest
    out, err = capfd.readouterr()
    assert KEY not in caplog.text + out + err


@pytest.mark.parametrize("url_value, words", [
    ("/etc/passwd", "path on this machine"),
    ("../secrets/cat.png", "path on this machine"),
    ("file:///etc/hostname", "path on this machine"),
    ("~/cat.png", "path on this machine"),
    ("https://example.com/cat.png", "does not fetch URLs"),
    ("data:image/png,notbase64", "must be base64"),
    ("data:image/png;base64,%%%%", "not valid base64"),
])
def test_a_file_must_be_sent_not_named(engine, url_value, words):
    with served(engine) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "hgpt", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": url_value}}]}]})
    assert r.status_code == 400, r.text
    assert words in r.json()["error"]["message"]
    assert engine.history.runs() == []


def test_run_files_are_served_only_from_their_run(engine, settings):
    with served(engine) as url:
        run = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={
            "model": "hgpt", "messages": [{"role": "user", "content": "shout it"}]}).json()["hgpt"]
        run_id = run["run_id"]
        (settings.home / "secret.png").write_bytes(png_bytes())
        cases = {
            f"/v1/files/{run_id}/..%2F..%2Fsecret.png": 400,
            f"/v1/files/{run_id}/..%2F..%2Fhgpt.db": 400,
            f"/v1/files/{run_id}/run.json": 400,
            f"/v1/files/{run_id}/inputs%2F..%2F..%2F..%2Fsecret.png": 400,
            f"/v1/files/{run_id}/.hidden.png": 400,
            "/v1/files/..%2F..%2Fsecret.png/x.png": 404,
            f"/v1/files/{run_id}/nothere.png": 404,
        }
        with httpx.Client(base_url=url) as client:
            for path, status in cases.items():
                r = client.get(httpx.URL(url + path))
                assert r.status_code == status, (path, r.status_code, r.text)
                assert r.headers["content-type"] == "application/json"
            assert client.get(run["files"][0]).status_code == 200


def test_size_limits_are_4xx_with_a_clear_message(engine):
    with served(engine, max_body_mb=0.05, max_file_mb=0.01, max_files=2) as url:
        big = "x" * 60_000
        r = httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": big}]})
        assert r.status_code == 413 and "limit" in r.json()["error"]["message"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 10_000

        r = httpx.post(f"{url}/hugginggpt", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        image = data_url(png_bytes(size=(200, 200)) + b"\0" * 20_000, "image/png")
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "hgpt", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": image}}]}]})
        assert r.status_code == 413 and "at most" in r.json()["error"]["message"]
        small = {"type": "image_url", "image_url": {"url": data_url(png_bytes(), "image/png")}}
        r = httpx.post(f"{url}/v1/chat/completions", json={"model": "hgpt", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look"}, small, small, small]}]})
        assert r.status_code == 413 and "at most 2 files" in r.json()["error"]["message"]
    assert engine.history.runs() == []


def test_browsers_and_rebound_names_are_refused(engine):
    with served(engine) as url:
        r = httpx.get(f"{url}/v1/models", headers={"origin": "https://evil.example"})
        assert r.status_code == 403 and "CORS is closed" in r.json()["error"]["message"]
        r = httpx.get(f"{url}/v1/models", headers={"host": "evil.example"})
        assert r.status_code == 403 and "only to localhost" in r.json()["error"]["message"]
        assert httpx.get(f"{url}/v1/models", headers={"host": "localhost:1234"}).status_code == 200
        r = httpx.options(f"{url}/v1/chat/completions", headers={
            "origin": "https://evil.example", "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in r.headers
    with served(engine, cors_origins=("http://localhost:3000",)) as url:
        r = httpx.get(f"{url}/v1/models", headers={"origin": "http://localhost:3000"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_bad_requests_are_4xx_never_5xx(engine):
    with served(engine) as url:
        cases = [
            ("/v1/chat/completions", {"model": "hgpt", "messages": []}, 422),
            ("/v1/chat/completions", {"model": "hgpt", "messages": [{"role": "assistant", "content": "hi"}]}, 400),
            ("/v1/chat/completions", {"model": "hgpt", "messages": [{"role": "user", "content": ""}]}, 400),
            ("/v1/chat/completions", {"model": "hgpt", "messages": [{"role": "user", "content": [
                {"type": "file", "file": {"file_id": "file-123"}}]}]}, 400),
            ("/hugginggpt", {"messages": "hello"}, 422),
            ("/tasks", {"messages": [{"role": "user", "content": " "}]}, 400),
        ]
        for path, body, status in cases:
            r = httpx.post(url + path, json=body)
            assert r.status_code == status, (path, body, r.text)
            assert r.json()["error"]["message"]
        r = httpx.post(f"{url}/hugginggpt", content=b"{not json", headers={"content-type": "application/json"})
        assert r.status_code == 422


def test_the_offline_guard_stays_on_while_serving(engine):
    from engine.offline import block_network, is_enforced

    assert is_enforced()
    with block_network() as log, served(engine) as url:
        r = httpx.post(f"{url}/v1/chat/completions", timeout=60, json={"model": "hgpt", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "look"},
                                         {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}}]}]})
        assert r.status_code == 400
        assert httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": "shout it"}]},
                          timeout=60).status_code == 200
    assert log.refused == []


def test_gate_retry_after_follows_recent_runs():
    from engine.serve.gate import Busy, Gate

    gate = Gate(running=1, waiting=1)
    first, second = gate.admit(), gate.admit()
    with pytest.raises(Busy) as info:
        gate.admit()
    assert info.value.retry_after == 20  # the running one and the waiting one before it, 10 s each (a guess)
    assert first.wait() and not second.held
    first.started -= 4.0  # as if it had run for 4 s
    first.release()
    assert second.wait()
    with pytest.raises(Busy) as info:
        gate.admit(), gate.admit()
    assert info.value.retry_after == 8  # two turns of the 4 s the last run took
    second.release()
    assert gate.stats() == {"running": 0, "waiting": 1, "slots": 1, "queue": 1}


def test_runs_use_a_few_long_lived_threads(engine):
    """A thread per request would leave a history-store connection behind for each."""
    with served(engine, running=2) as url:
        for i in range(6):
            assert httpx.post(f"{url}/hugginggpt", json={"messages": [{"role": "user", "content": f"hi {i}"}]},
                              timeout=60).status_code == 200
        serving = [t.name for t in threading.enumerate() if t.name.startswith("hgpt-serve")]
        assert 1 <= len(serving) <= 2
        assert len(engine.history._file._connections) <= 4  # the test's thread, the pool's, the server's


def test_a_request_dropped_before_it_ran_gives_its_place_back(settings):
    import gc

    from engine import CancelToken
    from engine.serve.service import Parsed, Service

    engine, _ = fake_engine(settings)
    service = Service(engine)
    bridge = service.run(Parsed("hello"), service.uploads(), CancelToken())
    assert service.gate.stats()["waiting"] == 1
    del bridge
    gc.collect()
    assert service.gate.stats() == {"running": 0, "waiting": 0, "slots": 2, "queue": 32}
    service.close()
