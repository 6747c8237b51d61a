"""MediaPipe in its own virtual environment, driven through a worker process.

mediapipe 0.10.21 needs numpy<2 while hgpt's environment has numpy 2, so it cannot
be imported here. It lives in a second venv beside the main one (``.venv-mediapipe``
next to ``sys.prefix``; ``HGPT_MEDIAPIPE_VENV`` moves it), created by ``ensure_env()``
— run ``python -m engine.experts.mediapipe_env``, which ``scripts/setup`` does. The
install is slim: mediapipe without its declared extras (jax, sentencepiece,
sounddevice serve model making and audio tasks we do not use), with the headless
OpenCV build, pinned so every machine gets the same set. A stamp file written last
marks a finished install, so a half-made venv is never taken for a working one.

The legacy ``mp.solutions`` graphs (pose, face detection, selfie segmentation) carry
their ``.tflite`` models inside the wheel, so nothing is downloaded at run time.

``Worker`` runs ``_mediapipe_worker.py`` under that venv's Python and talks JSON
lines over its stdin/stdout: one request, one reply. It starts in an expert's
``setup()``, keeps its graphs loaded between requests, and is stopped by
``teardown()``. Its stderr (MediaPipe's logging) goes to a log file whose tail is
quoted when the worker fails.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import ExpertError, HgptError
from ..settings import environment

PACKAGES = [
    "mediapipe==0.10.21", "numpy==1.26.4", "absl-py==2.5.1", "attrs==26.1.0",
    "flatbuffers==25.12.19", "protobuf==4.25.9", "opencv-python-headless==4.11.0.86",
    "matplotlib==3.11.2", "pillow==13.0.0",
]
STAMP = ".hgpt-mediapipe-ready"
WORKER = Path(__file__).with_name("_mediapipe_worker.py")
REQUEST_TIMEOUT_S = 120
INSTALL_HINT = "python -m engine.experts.mediapipe_env"


class MediapipeEnvError(HgptError, RuntimeError):
    """The isolated mediapipe environment could not be made or used."""


def env_dir() -> Path:
    custom = environment().mediapipe_venv
    return Path(custom).expanduser() if custom else Path(sys.prefix).parent / ".venv-mediapipe"


def env_python(folder: Path | None = None) -> Path:
    folder = folder or env_dir()
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_ready(folder: Path | None = None) -> bool:
    folder = folder or env_dir()
    return env_python(folder).exists() and (folder / STAMP).exists()


def missing_message() -> str | None:
    if is_ready():
        return None
    return f"the mediapipe environment ({env_dir()}) is not set up. Create it with: {INSTALL_HINT}"


def _run(cmd: list[str], log) -> None:
    proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise MediapipeEnvError(f"{' '.join(cmd[:4])} … failed (exit {proc.returncode}); see {log.name}")


def ensure_env(folder: Path | None = None) -> Path:
    """Create the isolated venv with the pinned packages unless it is already complete."""
    folder = folder or env_dir()
    if is_ready(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "setup.log", "w") as log:
        if not env_python(folder).exists():
            _run([sys.executable, "-m", "venv", str(folder)], log)
        pip = [str(env_python(folder)), "-m", "pip", "--disable-pip-version-check", "install", "-q"]
        _run(pip + ["--no-deps", PACKAGES[0]], log)
        _run(pip + PACKAGES[1:], log)
        _run([str(env_python(folder)), "-c", "import mediapipe.python.solutions"], log)
    (folder / STAMP).write_text(PACKAGES[0] + "\n")
    return folder


class Worker:
    """One ``_mediapipe_worker.py`` process; ``request`` is safe to call from several threads."""

    def __init__(self, folder: Path | None = None):
        folder = folder or env_dir()
        if not is_ready(folder):
            raise MediapipeEnvError(missing_message() or f"{folder} is not ready")
        self.log_path = folder / "worker.log"
        self._log = open(self.log_path, "ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="2", MEDIAPIPE_DISABLE_GPU="1")
        self.proc = subprocess.Popen([str(env_python(folder)), "-u", str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, env=env)
        self._lock = threading.Lock()

    def request(self, payload: dict, timeout: float = REQUEST_TIMEOUT_S) -> dict:
        with self._lock:
            if self.proc.poll() is not None:
                raise ExpertError(f"the mediapipe worker has stopped; {self._tail()}")
            self.proc.stdin.write(json.dumps(payload) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise ExpertError(f"the mediapipe worker gave no answer within {timeout:.0f} s; {self._tail()}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ExpertError(reply.get("error", "the mediapipe worker failed"))
        return reply.get("data", {})

    def _tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        last = lines[-1][:200] if lines else "no log"
        return f"last log line: {last} (full log: {self.log_path})"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def main() -> int:
    try:
        folder = ensure_env()
    except (MediapipeEnvError, OSError) as exc:
        print(f"hgpt: could not set up mediapipe: {exc}", file=sys.stderr)
        return 1
    print(f"mediapipe environment ready at {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
