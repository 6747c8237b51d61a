"""Hub sync against a local HTTP server on 127.0.0.1 that answers like the Hub API:
``Link: <…>; rel="next"`` cursor pagination, a 429 with Retry-After, a dropped
connection, and an interrupted sync resumed. No real network is used."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.catalog import Catalog
from engine.catalog.hub import SyncError, sync
from engine.cli import main
from engine.errors import OfflineError

PAGE_CAP = 10  # the real Hub caps pages at 1000; a small cap makes pagination visible


def hub_models(n: int) -> list[dict]:
    return [{"_id": f"{i:024x}", "id": f"org{i % 3}/model-{i}", "modelId": f"org{i % 3}/model-{i}",
             "downloads": 10_000 - i * 37, "likes": i, "pipeline_tag": ["text-classification", "fill-mask"][i % 2],
             "library_name": "transformers", "tags": ["transformers", "license:mit"],
             "lastModified": "2025-01-01T00:00:00.000Z", "sha": f"{i:040x}",
             "cardData": {"license": "mit", "language": "en"},
             "safetensors": {"parameters": {"F16": 1_000_000}, "total": 1_000_000}} for i in range(n)]


class FakeHub:
    """Serves ``/api/models`` sorted by downloads; behaviours are switched per cursor."""

    def __init__(self, models: list[dict]):
        self.models = sorted(models, key=lambda m: -m["downloads"])
        self.requests: list[dict] = []
        self.rate_limit_once: set[int] = set()  # cursors answered 429 the first time
        self.always_429 = False
        self.drop: set[int] = set()  # cursors whose connection is closed without an answer
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                hub.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        cursor = int(query.get("cursor", 0))
        self.requests.append({**query, "path": url.path, "cursor": cursor})
        if url.path != "/api/models":
            return self._send(request, 404, b'{"error": "not found"}')
        if self.always_429 or cursor in self.rate_limit_once:
            self.rate_limit_once.discard(cursor)
            return self._send(request, 429, b'{"error": "rate limited"}', {"Retry-After": "1"})
        if cursor in self.drop:
            request.close_connection = True
            request.connection.shutdown(2)
            return None
        assert query["sort"] == "downloads" and query["direction"] == "-1"
        assert query["full"] == "true" and query["cardData"] == "true"
        size = min(int(query["limit"]), PAGE_CAP)
        page = self.models[cursor: cursor + size]
        headers = {}
        if cursor + size < len(self.models):
            nxt = urllib.parse.urlencode(query | {"cursor": cursor + size})
            headers["Link"] = f'<{self.endpoint}/api/models?{nxt}>; rel="next"'
        return self._send(request, 200, json.dumps(page).encode(), headers)

    @staticmethod
    def _send(request, status: int, body: bytes, headers: dict | None = None) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub():
    server = FakeHub(hub_models(25))
    yield server
    server.close()


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "catalog.db")


def test_sync_follows_the_next_links_and_stores_the_hub_fields(hub, catalog):
    steps = list(sync(catalog, limit=25, endpoint=hub.endpoint, offline=False))
    assert [s.fetched for s in steps] == [10, 20, 25, 25] and steps[-1].done
    assert [r["cursor"] for r in hub.requests] == [0, 10, 20]
    assert catalog.count() == 25
    best = max(hub.models, key=lambda m: m["downloads"] if m["pipeline_tag"] == "fill-mask" else -1)
    top = catalog.top_k("fill-mask", 1)[0]
    assert top["id"] == best["id"] and top["downloads"] == best["downloads"]
    card = catalog.get(best["id"])
    assert card["licence"] == "mit" and card["runtime"] == "transformers" and card["languages"] == ["en"]
    assert card["size_mb"] == 2.0 and card["sha"] == best["sha"] and card["synced_at"]
    state = catalog.stats()["last_sync"]
    assert state["fetched"] == 25 and state["finished_at"] and state["endpoint"] == hub.endpoint


def test_sync_stops_at_the_limit(hub, catalog):
    steps = list(sync(catalog, limit=15, endpoint=hub.endpoint, offline=False))
    assert steps[-1].fetched == 15 and catalog.count() == 15
    assert len(hub.requests) == 2


def test_a_429_waits_retry_after_and_tries_again(hub, catalog):
    hub.rate_limit_once = {10}
    steps = list(sync(catalog, limit=25, endpoint=hub.endpoint, offline=False))
    assert [r["cursor"] for r in hub.requests] == [0, 10, 10, 20]
    assert steps[1].waited == pytest.approx(1.0) and catalog.count() == 25


def test_rate_limiting_is_bounded(hub, catalog):
    hub.always_429 = True
    hub.rate_limit_once = set()
    with pytest.raises(SyncError, match="429 Too Many Requests 3 times in a row.*run hgpt catalog sync again"):
        list(sync(catalog, limit=25, endpoint=hub.endpoint, offline=False, retries=2, max_wait=0.05))
    assert len(hub.requests) == 3


def test_a_dropped_connection_keeps_the_pages_and_the_next_sync_resumes(hub, catalog):
    hub.drop = {20}
    with pytest.raises(SyncError, match="20 cards are saved; run hgpt catalog sync again to resume"):
        list(sync(catalog, limit=25, endpoint=hub.endpoint, offline=False, retries=1, backoff=0.01))
    assert catalog.count() == 20
    assert [r["cursor"] for r in hub.requests] == [0, 10, 20, 20]
    hub.drop, hub.requests = set(), []
    steps = list(sync(catalog, limit=25, endpoint=hub.endpoint, offline=False))
    assert steps[0].resumed and steps[-1].fetched == 25 and catalog.count() == 25
    assert [r["cursor"] for r in hub.requests] == [20]  # pages 1 and 2 were not fetched again


def test_an_interrupted_sync_resumes_from_the_saved_cursor_in_a_new_process(hub, tmp_path):
    path = tmp_path / "catalog.db"
    stream = sync(Catalog(path), limit=25, endpoint=hub.endpoint, offline=False)
    assert next(stream).fetched == 10
    stream.close()  # as Ctrl-C between pages would
    hub.requests = []
    reopened = Catalog(path)  # a new catalog object: the state is in the file
    steps = list(sync(reopened, limit=25, endpoint=hub.endpoint, offline=False))
    assert steps[0].resumed and [r["cursor"] for r in hub.requests] == [10, 20]
    assert reopened.count() == 25
    hub.requests = []
    list(sync(reopened, limit=25, endpoint=hub.endpoint, offline=False, restart=True))
    assert [r["cursor"] for r in hub.requests] == [0, 10, 20]


def test_sync_refuses_at_once_when_offline(hub, catalog):
    with pytest.raises(OfflineError, match="--online"):
        sync(catalog, limit=5, endpoint=hub.endpoint, offline=True)
    assert hub.requests == []


def test_cli_sync_with_online_and_endpoint(hub, capsys):
    assert main(["catalog", "sync", "--online", "--endpoint", hub.endpoint, "--limit", "12"]) == 0
    out, err = capsys.readouterr()
    assert f"synced 12 model cards from {hub.endpoint}" in out
    assert "12/12" in err  # the progress bar is on stderr
    assert main(["catalog", "top", "text-classification", "--json"]) == 0
    top = json.loads(capsys.readouterr().out)
    assert top[0]["id"] == "org0/model-0"


def test_cli_sync_refuses_offline_and_honours_env(hub, capsys, monkeypatch):
    assert main(["catalog", "sync", "--endpoint", hub.endpoint]) == 2
    assert "offline mode is on" in capsys.readouterr().err and hub.requests == []
    monkeypatch.setenv("HGPT_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    assert main(["catalog", "sync", "--limit", "5"]) == 0
    assert "synced 5 model cards" in capsys.readouterr().out
