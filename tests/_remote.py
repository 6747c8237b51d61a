"""Helpers for the remote-inference tests and the pre-flight benchmark: another hgpt serving
its experts (a real ``hgpt serve`` process on loopback), and small servers that misbehave
(answer 500, hang, or answer the wrong shape) for the failure tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def hgpt_serve(home: Path, timeout: float = 180.0):
    """``hgpt serve --port 0`` in its own process with its own data folder; yields its URL."""
    from engine.controller.packs import embedded_gguf

    env = {k: v for k, v in os.environ.items() if not k.startswith("HGPT_")}
    env.update(HGPT_HOME=str(home), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", "0", "--no-warm-up",
                             "--no-mcp", "--controller", str(embedded_gguf()), "--threads", "1"],
                            cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url, seen = None, []
    deadline = time.monotonic() + timeout
    try:
        while url is None:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError("hgpt serve exited: " + "".join(seen))
            seen.append(line)
            match = re.search(r"serving on (http://[\d.]+:\d+)", line)
            if match:
                url = match.group(1)
            if time.monotonic() > deadline:
                raise RuntimeError("hgpt serve did not start: " + "".join(seen))
        threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep the pipe drained
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


class BadServer:
    """Answers every POST with ``status`` and ``body`` (after ``delay`` seconds); counts them."""

    def __init__(self, status: int = 500, body: object = None, delay: float = 0.0):
        self.status, self.body, self.delay, self.posts = status, body, delay, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.posts += 1
                if outer.delay:
                    time.sleep(outer.delay)
                payload = json.dumps(outer.body if outer.body is not None else {"error": "boom"}).encode()
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
