"""A local server that answers like the Hugging Face Hub, for pull tests and benchmarks.

It serves ``/{repo}/resolve/{rev}/{file}`` the way the Hub does: small files directly
with ``ETag`` and ``X-Repo-Commit``; large ("LFS") files as a 302 to a CDN path with
``X-Linked-Etag`` (their sha256) and ``X-Linked-Size``; the CDN honours ``Range``
(``bytes=N-`` and ``bytes=N-M``, answering 206 with ``Content-Range``, or 416 past the
end). ``/api/models/{repo}[/revision/{rev}]`` answers ``HfApi.model_info``: the commit
the revision points at, and with ``?blobs=true`` every file's size, blob id and LFS
sha256, plus the config, tags, library, pipeline tag and card data a test gives.

Repos have commits: the files given at construction are commit ``COMMIT`` on ``main``;
``commit(repo, files)`` adds another and moves the branch to it, and the old commit
stays reachable by its hash. A repo can be gated (``gate(repo, token)``: its files
answer 401 ``GatedRepo`` without that bearer token; its info says ``gated``). An
unknown repo answers 404 ``RepoNotFound``, an unknown revision 404 ``RevisionNotFound``,
like the Hub. It listens on 127.0.0.1 only, records every request, and can misbehave
on purpose: cut a download halfway once, serve other bytes under the right ETag, go
slowly, or answer 500.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    """Serves files of repos; records every request; can misbehave on purpose."""

    LFS_ABOVE = 1024  # bytes: larger files are "LFS" files, served through the CDN

    def __init__(self, files: dict[tuple[str, str], bytes], *, info: dict[str, dict] | None = None):
        self.files = files  # (repo, path) -> bytes at COMMIT (the initial main)
        self.commits: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit -> path -> bytes
        self.refs: dict[str, dict[str, str]] = {}  # repo -> branch or tag -> commit
        self.info = dict(info or {})  # repo -> extra model_info fields (config, tags, pipeline_tag, …)
        self.gated: dict[str, str] = {}  # repo -> the token that opens it
        self.requests: list[tuple[str, str, str]] = []
        self.drop_once: set[str] = set()  # file names whose first full GET is cut halfway
        self.lie: dict[str, bytes] = {}  # file name -> other bytes served under the true ETag
        self.fail: int = 0  # answer this HTTP status to every request while set (e.g. 500)
        self.delay = 0.0  # seconds between 64 KiB chunks
        for (repo, path), data in files.items():
            self.commits.setdefault(repo, {}).setdefault(COMMIT, {})[path] = data
            self.refs.setdefault(repo, {})["main"] = COMMIT
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    # -- what a test sets up ------------------------------------------------------------------
    def commit(self, repo: str, files: dict[str, bytes], branch: str = "main", commit: str | None = None) -> str:
        """A new commit of ``repo`` holding ``files``; ``branch`` moves to it. Returns its hash."""
        commit = commit or hashlib.sha1(json.dumps(sorted((k, sha256(v)) for k, v in files.items())).encode()
                                        + repo.encode() + str(len(self.commits.get(repo, {}))).encode()).hexdigest()
        self.commits.setdefault(repo, {})[commit] = dict(files)
        self.refs.setdefault(repo, {})[branch] = commit
        return commit

    def gate(self, repo: str, token: str) -> None:
        self.gated[repo] = token

    def resolve(self, repo: str, revision: str) -> str | None:
        if repo not in self.commits:
            return None
        if revision in self.commits[repo]:
            return revision
        return self.refs.get(repo, {}).get(revision)

    def all_blobs(self):
        for repo, commits in self.commits.items():
            for tree in commits.values():
                yield from tree.items()

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
                if hub.fail:
                    return self._status(hub.fail, "ServerError")
                split = urlsplit(self.path)
                path, query = unquote(split.path), parse_qs(split.query)
                if path.startswith("/cdn/"):
                    return self._cdn(path.split("/")[2], body)
                if path.startswith("/api/models/"):
                    return self._api(path[len("/api/models/"):], query, body)
                parts = path.lstrip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._status(404, "RepoNotFound")
                repo, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                if repo not in hub.commits:
                    return self._status(404, "RepoNotFound")
                if not self._allowed(repo):
                    return self._status(401, "GatedRepo", "Access to this model is restricted")
                commit = hub.resolve(repo, revision)
                if commit is None:
                    return self._status(404, "RevisionNotFound")
                data = hub.commits[repo][commit].get(name)
                if data is None:
                    return self._status(404, "EntryNotFound")
                if len(data) > hub.LFS_ABOVE:  # an LFS file: redirect to the CDN like the Hub does
                    self.send_response(302)
                    self.send_header("Location", f"{hub.url}/cdn/{sha256(data)}")
                    self.send_header("X-Linked-Etag", f'"{sha256(data)}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                    self.send_header("X-Repo-Commit", commit)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = hub.lie.get(name, data)
                self.send_response(200)
                self.send_header("ETag", f'"{git_blob_id(hub.commits[repo][commit][name])}"')
                self.send_header("X-Repo-Commit", commit)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _allowed(self, repo: str) -> bool:
                token = hub.gated.get(repo)
                return token is None or self.headers.get("Authorization", "") == f"Bearer {token}"

            def _api(self, rest: str, query: dict, body: bool):
                repo, _, revision = rest.partition("/revision/")
                repo = repo.strip("/")
                if repo not in hub.commits:
                    return self._status(404, "RepoNotFound", "Repository not found")
                commit = hub.resolve(repo, revision or "main")
                if commit is None:
                    return self._status(404, "RevisionNotFound", f"Invalid rev id: {revision}")
                tree = hub.commits[repo][commit]
                siblings = []
                for name, data in sorted(tree.items()):
                    sib = {"rfilename": name}
                    if query.get("blobs") == ["True"] or query.get("blobs") == ["true"]:
                        sib.update(size=len(data), blobId=git_blob_id(data))
                        if len(data) > hub.LFS_ABOVE:
                            sib["lfs"] = {"sha256": sha256(data), "size": len(data), "pointerSize": 134}
                    siblings.append(sib)
                extra = dict(hub.info.get(repo, {}))
                if "config.json" in tree and "config" not in extra:  # the Hub reads the config for its API
                    with contextlib.suppress(ValueError):
                        extra["config"] = json.loads(tree["config.json"])
                data = {"id": repo, "modelId": repo, "sha": commit, "private": False,
                        "gated": "manual" if repo in hub.gated else False, "disabled": False,
                        "downloads": extra.pop("downloads", 0), "likes": 0, "tags": extra.pop("tags", []),
                        "siblings": siblings, **extra}
                payload = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if body:
                    self.wfile.write(payload)

            def _cdn(self, digest: str, body: bool):
                name, data = next(((n, d) for n, d in hub.all_blobs() if sha256(d) == digest), (None, None))
                if data is None:
                    return self._status(404, "NoSuchKey")
                data = hub.lie.get(name, data)
                start, end = 0, len(data) - 1
                wanted = self.headers.get("Range", "")
                if wanted:
                    first, _, last = wanted.split("=", 1)[1].partition("-")
                    start = int(first or 0)
                    end = min(int(last), len(data) - 1) if last else len(data) - 1
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                partial = bool(wanted)
                self.send_response(206 if partial else 200)
                self.send_header("Content-Length", str(end + 1 - start))
                self.send_header("Accept-Ranges", "bytes")
                if partial:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("ETag", f'"{digest}"')
                self.end_headers()
                if not body:
                    return
                cut = len(data) // 2 if (name in hub.drop_once and not start) else None
                if cut is not None:
                    hub.drop_once.discard(name)
                self._write(data[start:cut] if cut is not None else data[start:end + 1])
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

            def _status(self, code: int, error: str, message: str = ""):
                payload = json.dumps({"error": message or error}).encode() if message else b""
                self.send_response(code)
                self.send_header("X-Error-Code", error)
                if message:
                    self.send_header("X-Error-Message", message)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and self.command != "HEAD":
                    self.wfile.write(payload)

        return Handler

    def gets(self, name_or_digest: str) -> list[tuple[str, str, str]]:
        return [r for r in self.requests if r[0] == "GET" and name_or_digest in r[1]]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
