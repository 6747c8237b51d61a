"""`hgpt serve` and `hgpt mcp` with the real models: the embedded SmolLM2 controller through
llama.cpp and the installed experts (EfficientNet, Piper, spaCy), driven by the official
clients — the openai package, httpx for HuggingGPT's endpoints, huggingface_hub's
InferenceClient, and the mcp SDK's client over streamable HTTP and over stdio."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from _serve import data_url, served

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHELSEA = (ROOT / "samples" / "chelsea.png").read_bytes()
SHOWCASE = "What animal is in this picture? Then say the answer out loud."
IMAGE_PART = {"type": "image_url", "image_url": {"url": data_url(CHELSEA, "image/png")}}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def real(tmp_path_factory, llm):
    from engine import Engine, load_settings

    engine = Engine(load_settings(tmp_path_factory.mktemp("serve-real")), controller=llm)
    with served(engine, running=2, waiting=32) as url:
        yield url, engine


def openai_client(url):
    from openai import OpenAI

    return OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=900)


def test_openai_showcase_with_an_image(real):
    url, engine = real
    reply = openai_client(url).chat.completions.create(
        model="hgpt", messages=[{"role": "user", "content": [{"type": "text", "text": SHOWCASE}, IMAGE_PART]}])
    run = reply.model_extra["hgpt"]
    assert [r["task"] for r in run["results"]] == ["image-classification", "text-to-speech"]
    classified, spoken = run["results"]
    assert classified["model_id"] == "timm/tf_efficientnet_lite0.in1k" and "cat" in classified["text"].lower()
    assert spoken["status"] == "done" and spoken["files"][0].endswith(".wav")
    wav = httpx.get(spoken["files"][0])
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 10_000
    text = reply.choices[0].message.content
    assert "timm/tf_efficientnet_lite0.in1k" in text and spoken["files"][0] in text
    assert engine.history.run(run["run_id"]).status == "done"


def test_openai_streams_the_direct_answer_token_by_token(real):
    url, engine = real
    pieces, final = [], None
    for chunk in openai_client(url).chat.completions.create(
            model="hgpt", stream=True, messages=[{"role": "user", "content": "What is the capital of France?"}]):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason == "stop":
            final = chunk.model_extra["hgpt"]
    assert len(pieces) > 3  # tokens as llama.cpp wrote them, not one block at the end
    assert final["status"] == "done" and final["plan"] == []
    assert "".join(pieces).strip() == final["answer"]["direct"]
    assert engine.history.run(final["run_id"]).status == "done"


def test_hugginggpt_endpoints_with_httpx(real):
    url, _ = real
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": SHOWCASE}, IMAGE_PART]}]}
    plan = httpx.post(f"{url}/tasks", json=body, timeout=900).json()
    assert [t["task"] for t in plan] == ["image-classification", "text-to-speech"]
    assert plan[1]["args"] == {"text": "<resource>-0"} and plan[1]["dep"] == [0]
    results = httpx.post(f"{url}/results", json=body, timeout=900).json()
    assert "cat" in results["0"]["inference result"]["generated text"].lower()
    assert results["0"]["choose model result"]["id"] == "timm/tf_efficientnet_lite0.in1k"
    assert httpx.get(url + results["1"]["inference result"]["generated audio"]).content[:4] == b"RIFF"
    answer = httpx.post(f"{url}/hugginggpt", timeout=900, json={
        "messages": [{"role": "user", "content": "Say hello."}]}).json()
    assert answer["message"].strip()


def test_huggingface_inference_client_on_real_experts(real, monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub import InferenceClient
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # its own switch refuses loopback too
    reset_sessions()
    url, _ = real
    labels = InferenceClient(model=f"{url}/models/timm/tf_efficientnet_lite0.in1k").image_classification(CHELSEA)
    assert "cat" in labels[0].label.lower() and 0 < labels[0].score <= 1
    entities = InferenceClient(model=f"{url}/models/spacy/en_core_web_sm").token_classification(
        "Barack Obama was born in Hawaii.")
    assert {(e.word, e.entity_group) for e in entities} >= {("Barack Obama", "PERSON"), ("Hawaii", "GPE")}


def _mcp_session(server, chelsea_b64):
    from mcp import Client

    async def go():
        async with Client(server) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            classified = await client.call_tool("image_classification", {"image": chelsea_b64})
            asked = await client.call_tool("ask", {"request": "What is the capital of France?"})
            return tools, classified, asked

    return asyncio.run(go())


def _check_mcp(tools, classified, asked):
    assert {"ask", "plan", "image_classification", "text_to_speech", "token_classification"} <= set(tools)
    assert tools["image_classification"].input_schema["required"] == ["image"]
    assert "timm/tf_efficientnet_lite0.in1k" in tools["image_classification"].input_schema["properties"]["model"]["enum"]
    assert not classified.is_error and "cat" in classified.content[0].text.lower()
    assert classified.structured_content["model_id"] == "timm/tf_efficientnet_lite0.in1k"
    assert not asked.is_error and asked.content[0].text.strip()
    assert asked.structured_content["status"] == "done"


def test_mcp_client_over_streamable_http(real):
    url, engine = real
    before = len(engine.history.runs())
    _check_mcp(*_mcp_session(f"{url}/mcp", base64.b64encode(CHELSEA).decode()))
    assert len(engine.history.runs()) == before + 1  # ask was one run


def test_mcp_client_over_stdio(tmp_path):
    from mcp.client.stdio import StdioServerParameters

    from engine.history import HistoryStore

    home = tmp_path / "mcp-home"
    params = StdioServerParameters(
        command=sys.executable, cwd=str(ROOT),
        args=["-m", "engine.cli", "mcp", "--controller", "smollm2-135m-instruct", "--threads", "2"],
        env={**os.environ, "HGPT_HOME": str(home)})
    _check_mcp(*_mcp_session(params, data_url(CHELSEA, "image/png")))
    runs = HistoryStore(home / "hgpt.db").runs()
    assert [r.status for r in runs] == ["done"] and runs[0].request == "What is the capital of France?"


def test_a_client_that_disconnects_stops_generation(real):
    url, engine = real
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=900, json={
            "model": "hgpt", "stream": True,
            "messages": [{"role": "user", "content": "Tell me a long story about a dragon and a knight."}]}) as r:
        for line in r.iter_lines():
            if '"content": "' in line and '"content": ""' not in line:
                run_id = line.split('"chatcmpl-', 1)[1].split('"', 1)[0]
                break
    left = time.monotonic()
    while engine.history.run(run_id).status == "running" and time.monotonic() - left < 30:
        time.sleep(0.1)
    assert engine.history.run(run_id).status == "cancelled"
    assert time.monotonic() - left < 10  # stopped between two generated tokens, not at the end


def test_sixteen_clients_at_once(real):
    url, engine = real
    before = {r.id for r in engine.history.runs()}
    start_rss = rss_mb()
    peak = [start_rss]
    done = threading.Event()

    def watch():
        while not done.wait(0.2):
            peak.append(rss_mb())

    replies: dict[int, object] = {}

    def ask(i):
        replies[i] = httpx.post(f"{url}/v1/chat/completions", timeout=1800, json={
            "model": "hgpt", "messages": [{"role": "user", "content": f"Question {i}: name a colour."}]})

    threading.Thread(target=watch, daemon=True).start()
    clients = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(1800)
    done.set()
    assert sorted(replies) == list(range(16))
    assert [r.status_code for r in replies.values()] == [200] * 16
    run_ids = [r.json()["hgpt"]["run_id"] for r in replies.values()]
    assert len(set(run_ids)) == 16
    new = [r for r in engine.history.runs() if r.id not in before]
    assert sorted(r.id for r in new) == sorted(run_ids)  # each answered run recorded exactly once
    assert {r.status for r in new} == {"done"}
    for i, reply in replies.items():  # each client got its own run, not another's
        assert engine.history.run(reply.json()["hgpt"]["run_id"]).request == f"Question {i}: name a colour."
    assert max(peak) - start_rss < 400, f"RSS grew {max(peak) - start_rss:.0f} MB serving 16 clients"
    assert httpx.get(f"{url}/health").json()["queue"]["running"] == 0
