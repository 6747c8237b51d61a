"""Every setting hgpt reads, and every environment variable, in one place.

Two kinds of input:

* ``Settings`` — what the user chooses (the Settings view writes ``settings.json``
  in the data folder; ``hgpt`` options override it for one command). An ``Engine``
  owns one ``Settings`` value and passes it down; nothing keeps a process-wide
  copy, so a change reaches the next request (``Engine.update``).
* ``Environment`` — what the process's environment says, read by ``environment()``
  at the moment of the call (tests and users may change it at any time): the data
  folder override (``HGPT_HOME``), device and backend overrides, where the Hugging
  Face cache and endpoint are, and the overrides of saved settings
  (``HGPT_CONTROLLER``, ``HGPT_CHAT_FORMAT``, ``HGPT_THREADS``, ``HGPT_OFFLINE``,
  ``HGPT_INFERENCE_MODE``, ``HGPT_REMOTE_URL``, ``HGPT_REMOTE_TOKEN``,
  ``HGPT_CONTROLLER_API_KEY``).
  No other module reads ``os.environ``; ``engine.offline`` only *sets* the Hugging
  Face offline switches when offline mode is on.

``load_settings`` layers them: defaults, then the settings file, then the
environment's overrides.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

TRUE_WORDS = ("1", "true", "yes", "on")


def _flag(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Environment:
    """The environment variables hgpt honours, read once per ``environment()`` call."""

    home: str = ""  # HGPT_HOME: the data folder, above the one chosen in Settings
    config_dir: str = ""  # HGPT_CONFIG_DIR: where the data-folder choice is remembered
    controller: str = ""  # HGPT_CONTROLLER
    chat_format: str = ""  # HGPT_CHAT_FORMAT
    threads: str = ""  # HGPT_THREADS
    offline: str | None = None  # HGPT_OFFLINE
    device: str = ""  # HGPT_DEVICE: cpu | cuda | mps (default: the best found)
    expert_backend: str = ""  # HGPT_EXPERT_BACKEND: auto | torch | onnx
    mediapipe_venv: str = ""  # HGPT_MEDIAPIPE_VENV: the isolated MediaPipe venv
    models_lock: str = ""  # HGPT_MODELS_LOCK: another models.lock
    no_warmup: bool = False  # HGPT_NO_WARMUP: the window does not preload the engine
    api_key: str = field(default="", repr=False)  # HGPT_API_KEY: the key `hgpt serve` asks for (never shown)
    inference_mode: str = ""  # HGPT_INFERENCE_MODE: local | hybrid | remote, above the saved setting
    remote_url: str = ""  # HGPT_REMOTE_URL: the inference endpoint, above the saved setting
    remote_token: str = field(default="", repr=False)  # HGPT_REMOTE_TOKEN (never shown)
    controller_api_key: str = field(default="", repr=False)  # HGPT_CONTROLLER_API_KEY (never shown)
    hf_endpoint: str = ""  # HF_ENDPOINT
    hf_cache: Path = Path()  # HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub
    hf_offline: bool = False  # HF_HUB_OFFLINE

    @property
    def device_override(self) -> str:
        return self.device.strip().lower()

    @property
    def backend(self) -> str:
        return self.expert_backend.strip().lower() or "auto"


def _hf_cache(env) -> Path:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(env[var]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def environment(env=None) -> Environment:
    """The variables as they are now (``env`` defaults to ``os.environ``)."""
    env = os.environ if env is None else env
    return Environment(
        home=env.get("HGPT_HOME", ""), config_dir=env.get("HGPT_CONFIG_DIR", ""),
        controller=env.get("HGPT_CONTROLLER", ""), chat_format=env.get("HGPT_CHAT_FORMAT", ""),
        threads=env.get("HGPT_THREADS", ""), offline=env.get("HGPT_OFFLINE"),
        device=env.get("HGPT_DEVICE", ""), expert_backend=env.get("HGPT_EXPERT_BACKEND", ""),
        mediapipe_venv=env.get("HGPT_MEDIAPIPE_VENV", ""), models_lock=env.get("HGPT_MODELS_LOCK", ""),
        no_warmup=_flag(env.get("HGPT_NO_WARMUP"), False), api_key=env.get("HGPT_API_KEY", ""),
        inference_mode=env.get("HGPT_INFERENCE_MODE", ""), remote_url=env.get("HGPT_REMOTE_URL", ""),
        remote_token=env.get("HGPT_REMOTE_TOKEN", ""),
        controller_api_key=env.get("HGPT_CONTROLLER_API_KEY", ""),
        hf_endpoint=env.get("HF_ENDPOINT", ""), hf_cache=_hf_cache(env),
        hf_offline=env.get("HF_HUB_OFFLINE", "").strip().lower() in TRUE_WORDS,
    )


def home_pointer() -> Path:
    """A file naming the data folder the user chose (it cannot live inside that folder)."""
    chosen = environment().config_dir
    if chosen:
        return Path(chosen).expanduser() / "data-folder"
    import platformdirs

    return Path(platformdirs.user_config_dir("hgpt", appauthor=False)) / "data-folder"


def save_home(path: str | Path | None) -> None:
    """Remember ``path`` as the data folder for later starts; None forgets the choice."""
    pointer = home_pointer()
    if path is None:
        pointer.unlink(missing_ok=True)
        return
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(Path(path).expanduser().resolve()))


def default_home() -> Path:
    """``HGPT_HOME``, else the folder chosen in Settings, else the platform's data folder."""
    env = environment().home
    if env:
        return Path(env).expanduser()
    try:
        chosen = home_pointer().read_text().strip()
    except OSError:
        chosen = ""
    if chosen:
        return Path(chosen)
    import platformdirs

    return Path(platformdirs.user_data_dir("hgpt", appauthor=False))


def home_is_forced() -> bool:
    """Is the data folder set by ``HGPT_HOME`` (so a choice in Settings cannot move it)?"""
    return bool(environment().home)


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    controller: str = ""  # a GGUF path or an http(s) URL; "" means the embedded default
    chat_format: str = ""  # "" means: read it from the GGUF's metadata
    n_ctx: int = 4096
    n_threads: int = 0  # 0 means: llama.cpp's own choice
    n_gpu_layers: int = -1  # -1: offload all layers when a GPU backend is compiled in
    results_cache_mb: int = 512  # the results cache's bound (engine.results_cache); 0 turns it off
    offline: bool = True
    top_k: int = 5
    max_workers: int = 2
    memory_budget_mb: int = 0  # 0 means: 60 % of physical memory
    review_plan: bool = False
    api_server: bool = False  # the window serves the local API (engine.serve) while it is open
    api_port: int = 8004  # the local API's port (`hgpt serve --port` overrides it)
    api_key: str = field(default="", repr=False)  # the key programs must send to the window's API ("" = none)
    # a controller behind an OpenAI-compatible server (when ``controller`` is an http(s) URL)
    controller_model: str = ""  # the model name the server is asked for ("" = the server's own)
    controller_api_key: str = field(default="", repr=False)  # engine.secrets: keyring, else the file (0600)
    controller_grammar: str = "auto"  # auto (detected) | gbnf | json_schema | both | off
    # where experts run (engine.ondemand): local | hybrid (local first, the endpoint for the rest) | remote
    inference_mode: str = "local"
    remote_url: str = ""  # an endpoint speaking the HF inference protocol ("" = HF Inference Providers)
    remote_token: str = field(default="", repr=False)  # engine.secrets: keyring, else the file (0600)
    remote_timeout: float = 60.0  # seconds per remote call (a timeout is retried, with backoff)

    # -- where things live in the data folder -------------------------------------------
    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def db_path(self) -> Path:
        return self.home / "hgpt.db"

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.db"

    @property
    def settings_file(self) -> Path:
        return self.home / "settings.json"

    @property
    def planning_file(self) -> Path:
        """Each controller's measured planning (``engine.plan.calibration``): does the
        planner prefer its own plans to the rails'?"""
        return self.home / "planning.json"

    @property
    def cache_dir(self) -> Path:
        """Derived data that can be rebuilt (embeddings of fixed texts, prompt states)."""
        return self.home / "cache"

    @property
    def results_dir(self) -> Path:
        """Task results kept for reuse (``engine.results_cache``); safe to delete."""
        return self.cache_dir / "results"

    @property
    def onnx_dir(self) -> Path:
        """ONNX exports of transformers models (``engine.experts.hf.onnx``)."""
        return self.home / "onnx"

    @property
    def models_dir(self) -> Path:
        """Model files hgpt assembles itself (controllers joined from PyPI packs)."""
        return self.home / "models"

    def save(self) -> None:
        """settings.json, written whole (temp file, rename); secrets go to the OS keyring where
        there is one, else into the file, which is then readable by its owner only (0600)."""
        from . import secrets

        self.home.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "home"}
        for name in secrets.SECRET_FIELDS:
            data[name] = secrets.store(name, data.get(name, ""), self.home)
        tmp = self.settings_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=2))
        os.chmod(tmp, 0o600)  # an older file may have been created wider
        tmp.replace(self.settings_file)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def changed(self, other: "Settings") -> set[str]:
        """Names of the fields whose values differ from ``other``'s."""
        return {f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)}


def load_settings(home: Path | None = None) -> Settings:
    """Defaults, then the settings file, then environment variables (highest)."""
    base = Settings(home=Path(home) if home else default_home())
    known = {f.name for f in fields(Settings)}
    stored: dict = {}
    if base.settings_file.exists():
        try:
            stored = json.loads(base.settings_file.read_text())
        except (OSError, json.JSONDecodeError):
            stored = {}
    stored = {k: v for k, v in stored.items() if k in known and k != "home"} if isinstance(stored, dict) else {}
    from . import secrets

    for name in secrets.SECRET_FIELDS:
        if name in stored:
            stored[name] = secrets.fetch(name, stored[name], base.home)
    env = environment()
    stored.update({k: v for k, v in (("inference_mode", env.inference_mode), ("remote_url", env.remote_url),
                                     ("remote_token", env.remote_token),
                                     ("controller_api_key", env.controller_api_key), ("api_key", env.api_key)) if v})
    stored.update({k: v for k, v in (("controller", env.controller), ("chat_format", env.chat_format)) if v})
    if env.threads:
        stored["n_threads"] = int(env.threads)
    stored["offline"] = _flag(env.offline, stored.get("offline", True))
    return replace(base, **stored)
