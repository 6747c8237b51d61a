"""A local server that answers like the Hugging Face Hub, for pull tests and benchmarks.

It serves ``/{repo}/resolve/{rev}/{file}`` the way the Hub does: small files directly
with ``ETag`` and ``X-Repo-Commit``; large ("LFS") files as a 302 to a CDN path with
``X-Linked-Etag`` (their sha256) and ``X-Linked-Size``; the CDN honours ``Range``. It
listens on 127.0.0.1 only, records every request, and can misbehave on purpose: cut a
download halfway once, serve other bytes under the right ETag, or go slowly.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FakeHub:
    """Serves files of repos; records every request; can misbehave on purpose."""

    def __init__(self, files: dict[tuple[str, str], bytes]):
        self.files = files
        self.requests: list[tuple[str, str, str]] = []
        self.drop_once: set[str] = set()  # file names whose first full GET is cut halfway
        self.lie: dict[str, bytes] = {}  # file name -> other bytes served under the true ETag
        self.delay = 0.0  # seconds between 64 KiB chunks
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle(self):
                # A client that hangs up mid-file (a cancelled pull) is not a server error.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def do_HEAD(self):
                hub.requests.append(("HEAD", self.path, self.headers.get("Range", "")))
                self._serve(body=False)

            def do_GET(self):
                hub.requests.append(("GET", self.path, self.headers.get("Range", "")))
                self._serve(body=True)

            def _serve(self, body: bool):
                path = unquote(self.path)
                if path.startswith("/cdn/"):
                    return self._cdn(path.split("/")[2], body)
                parts = path.lstrip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._status(404, "RepoNotFound")
                repo, name = "/".join(parts[:2]), "/".join(parts[4:])
                data = hub.files.get((repo, name))
                if data is None:
                    return self._status(404, "EntryNotFound")
                if len(data) > 1024:  # an LFS file: redirect to the CDN like the Hub does
                    self.send_response(302)
                    self.send_header("Location", f"{hub.url}/cdn/{sha256(data)}")
                    self.send_header("X-Linked-Etag", f'"{sha256(data)}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                    self.send_header("X-Repo-Commit", COMMIT)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _cdn(self, digest: str, body: bool):
                name, data = next(((n, d) for (_, n), d in hub.files.items() if sha256(d) == digest), (None, None))
                if data is None:
                    return self._status(404, "NoSuchKey")
                data = hub.lie.get(name, data)
                start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("ETag", f'"{digest}"')
                self.end_headers()
                if not body:
                    return
                cut = len(data) // 2 if (name in hub.drop_once and not start) else None
                if cut is not None:
                    hub.drop_once.discard(name)
                self._write(data[start:cut] if cut is not None else data[start:])
                if cut is not None:  # drop the connection mid-file
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _write(self, data: bytes):
                for i in range(0, len(data), 65536):
                    try:
                        self.wfile.write(data[i:i + 65536])
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    if hub.delay:
                        time.sleep(hub.delay)

            def _status(self, code: int, error: str):
                self.send_response(code)
                self.send_header("X-Error-Code", error)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def gets(self, name_or_digest: str) -> list[tuple[str, str, str]]:
        return [r for r in self.requests if r[0] == "GET" and name_or_digest in r[1]]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
