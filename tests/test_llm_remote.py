"""The OpenAI-compatible controller against a local fake server on 127.0.0.1 (the
server is the fake; the HTTP client, the SSE reader and the planner are real)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.errors import OfflineError
from engine.controller.remote import RemoteController, RemoteControllerError
from engine.tasks import TASK_TYPES as T


class FakeServer:
    """Answers /v1/chat/completions from a queue; records every request body."""

    def __init__(self):
        self.replies, self.requests, self.status = [], [], 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if outer.status != 200:
                    self.send_response(outer.status)
                    self.end_headers()
                    self.wfile.write(b"model not found")
                    return
                reply = outer.replies.pop(0)
                self.send_response(200)
                if body.get("stream"):
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for piece in reply:
                        chunk = {"choices": [{"delta": {"content": piece}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                else:
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(json.dumps({"choices": [{"message": {"content": reply}}]}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def test_complete_sends_the_grammar_and_reads_the_reply(server):
    server.replies.append("[]")
    llm = RemoteController(server.url + "/v1", model="big", api_key="k")
    assert llm.complete([{"role": "user", "content": "hi"}], grammar='root ::= "[]"', max_tokens=9) == "[]"
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer k"
    assert sent["body"]["grammar"] == 'root ::= "[]"' and sent["body"]["model"] == "big"
    assert sent["body"]["max_tokens"] == 9 and sent["body"]["temperature"] == 0.0
    assert "response_format" not in sent["body"] and llm.stats.calls == 1


def test_json_schema_mode_sends_response_format(server):
    server.replies.append("[]")
    llm = RemoteController(server.url, grammar_mode="json_schema")
    llm.complete([{"role": "user", "content": "hi"}], grammar="root ::= x", schema={"type": "array"})
    body = server.requests[0]["body"]
    assert "grammar" not in body and body["response_format"]["json_schema"]["schema"] == {"type": "array"}


def test_stream_reads_server_sent_events(server):
    server.replies.append(["It ", "is ", "a cat."])
    llm = RemoteController(server.url)
    assert "".join(llm.stream([{"role": "user", "content": "hi"}])) == "It is a cat."
    assert server.requests[0]["body"]["stream"] is True


def test_errors_are_one_line_with_the_fix(server):
    server.status = 404
    with pytest.raises(RemoteControllerError, match="HTTP 404: model not found; check the model name"):
        RemoteController(server.url).complete([{"role": "user", "content": "x"}])
    closed = FakeServer()
    closed.close()
    with pytest.raises(RemoteControllerError, match="cannot reach the controller server .*start it"):
        RemoteController(closed.url, timeout=5).complete([{"role": "user", "content": "x"}])
    with pytest.raises(OfflineError, match="offline mode is on"):
        RemoteController("http://example.org:8080").complete([{"role": "user", "content": "x"}])


def test_planner_plans_through_the_server_in_one_call(server):
    from engine.plan.planner import Planner

    server.replies.append(json.dumps([
        {"task": "image-classification", "id": 0, "args": {"image": "cat.png"}},
        {"task": "text-to-speech", "id": 1, "args": {"text": "<resource>-0"}}]))
    llm = RemoteController(server.url, grammar_mode="both")
    plan, *_ = Planner(llm, list(T.values())).plan("What is in cat.png? Say it aloud.", {"cat.png": "image"})
    assert [t.task for t in plan.tasks] == ["image-classification", "text-to-speech"]
    assert plan.tasks[1].dep == [0]
    body = server.requests[0]["body"]
    assert '"\\"cat.png\\""' in body["grammar"]
    assert "image-classification" in body["response_format"]["json_schema"]["schema"]["items"]["properties"]["task"]["enum"]


def test_settings_with_a_url_load_the_remote_controller(settings, server):
    from engine.controller import load_controller

    llm = load_controller(settings.with_(controller=server.url))
    assert isinstance(llm, RemoteController) and llm.offline is settings.offline


# -- grammar support, detected (grammar_mode="auto"; the real llama_cpp.server: test_llm_remote_server.py) --
def test_a_server_that_ignores_grammar_but_honours_schemas_gets_schemas(server):
    server.replies += ["Hello there", '{"w": "zqxv"}', "[]"]  # the grammar probe ignored, the schema honoured
    llm = RemoteController(server.url, grammar_mode="auto")
    assert llm.accepts_schema and not llm.accepts_grammar and llm.grammar_mode == "json_schema"
    probes = [r["body"] for r in server.requests]
    assert probes[0]["grammar"] == 'root ::= "zqxv"' and "response_format" not in probes[0]
    assert probes[1]["response_format"]["json_schema"]["schema"]["properties"]["w"]["enum"] == ["zqxv"]
    llm.complete([{"role": "user", "content": "plan"}], grammar="root ::= x", schema={"type": "array"})
    assert "grammar" not in server.requests[-1]["body"] and "response_format" in server.requests[-1]["body"]


def test_a_server_that_honours_neither_gets_plain_text_and_the_planner_repairs(server):
    from engine.plan.planner import Planner

    server.replies += ["Hello", "Hello", 'Sure! [{"task": "image-classification", "id": 0, '
                                         '"args": {"image": "cat.png"}}] Hope this helps.']
    llm = RemoteController(server.url, grammar_mode="auto")
    plan, *_ = Planner(llm, list(T.values())).plan("What is in cat.png?", {"cat.png": "image"})
    assert llm.grammar_mode == "off" and [t.task for t in plan.tasks] == ["image-classification"]
    body = server.requests[-1]["body"]
    assert "grammar" not in body and "response_format" not in body


def test_detection_waits_for_a_server_that_is_down():
    closed = FakeServer()
    closed.close()
    llm = RemoteController(closed.url, grammar_mode="auto", timeout=2)
    assert not llm.accepts_grammar and llm.grammar_mode == "auto"  # asked again once it is up
