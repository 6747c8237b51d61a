"""Running the app: ``ApiServer`` binds the socket itself, then hands it to uvicorn.

Binding first means a port in use is one clear ``HgptError`` (not uvicorn's exit),
port 0 picks a free port (tests, benchmarks), and the window can start and stop the
server on a background thread (``start`` / ``stop``) while ``hgpt serve`` runs it in
the foreground (``serve_forever``, Ctrl+C stops it).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time

from engine import errors

from .config import ServeConfig

log = logging.getLogger(__name__)


class ApiServer:
    def __init__(self, engine, config: ServeConfig | None = None, *, log_level: str = "warning"):
        self.engine = engine
        self.config = (config or ServeConfig()).check()
        self.log_level = log_level
        self._server = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = self.config.port
        self.error = ""

    @property
    def url(self) -> str:
        return f"http://{self.config.display_host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and bool(getattr(self._server, "started", False))

    def _bind(self) -> socket.socket:
        host = self.config.host.strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, self.config.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise errors.UserInputError(f"port {self.config.port} is in use on {self.config.host}; stop what "
                                            "uses it or choose another port (--port)") from None
            raise errors.UserInputError(f"cannot listen on {self.config.host}:{self.config.port}: "
                                        f"{exc.strerror or exc}") from None
        sock.listen(128)
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        return sock

    def _uvicorn(self):
        import uvicorn

        from .app import create_app

        app = create_app(self.engine, self.config)
        config = uvicorn.Config(app, log_level=self.log_level, access_log=self.log_level in ("info", "debug"),
                                lifespan="on", timeout_graceful_shutdown=5, server_header=False)
        return uvicorn.Server(config)

    def start(self, timeout: float = 20.0) -> str:
        """Serve on a background thread; return the URL once it accepts connections."""
        if self._thread is not None and self._thread.is_alive():
            return self.url
        self._socket = self._bind()
        self._server = self._uvicorn()
        self.error = ""

        def run():
            try:
                self._server.run(sockets=[self._socket])
            except BaseException as exc:  # SystemExit from uvicorn's startup, or a bug: keep it for the caller
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("the API server stopped: %s", self.error)

        self._thread = threading.Thread(target=run, name="hgpt-api-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise errors.HgptError(f"the API server did not start{': ' + self.error if self.error else ''}")
            time.sleep(0.02)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._thread = self._server = self._socket = None

    def serve_forever(self, ready=None) -> None:
        """Serve in this thread until Ctrl+C / SIGTERM; ``ready(url)`` once the port is bound."""
        sock = self._bind()
        self._server = self._uvicorn()
        if ready is not None:
            ready(self.url)
        try:
            self._server.run(sockets=[sock])
        finally:
            sock.close()
