"""Settings, read once from the environment and the settings file.

``HGPT_HOME`` moves every file hgpt writes (database, runs, caches) — tests point it
at a temp dir. Offline mode is a first-class setting and on by default: nothing
reaches for the network unless the user turned it off.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def home_pointer() -> Path:
    """A file naming the data folder the user chose (it cannot live inside that folder)."""
    env = os.environ.get("HGPT_CONFIG_DIR")
    if env:
        return Path(env).expanduser() / "data-folder"
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
    env = os.environ.get("HGPT_HOME")
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


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    controller: str = ""  # path to a GGUF; "" means the embedded default (SmolLM2-135M)
    chat_format: str = ""  # "" means: read it from the GGUF's metadata
    n_ctx: int = 4096
    n_threads: int = 0  # 0 means: llama.cpp's own choice
    n_gpu_layers: int = -1  # -1: offload all layers when a GPU backend is compiled in
    offline: bool = True
    top_k: int = 5
    max_workers: int = 2
    memory_budget_mb: int = 0  # 0 means: 60 % of physical memory
    review_plan: bool = False

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

    def save(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in asdict(self).items() if k != "home"}
        tmp = self.settings_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.settings_file)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def load_settings(home: Path | None = None) -> Settings:
    """Defaults, then the settings file, then environment variables (highest)."""
    base = Settings(home=home or default_home())
    known = {f.name: f.type for f in fields(Settings)} 
    stored: dict = {}
    if base.settings_file.exists():
        try:
            stored = json.loads(base.settings_file.read_text())
        except (OSError, json.JSONDecodeError):
            stored = {}
    stored = {k: v for k, v in stored.items() if k in known and k != "home"}
    env = {
        "controller": os.environ.get("HGPT_CONTROLLER"),
        "chat_format": os.environ.get("HGPT_CHAT_FORMAT"),
    }
    stored.update({k: v for k, v in env.items() if v})
    if "HGPT_THREADS" in os.environ:
        stored["n_threads"] = int(os.environ["HGPT_THREADS"])
    stored["offline"] = _env_bool("HGPT_OFFLINE", stored.get("offline", True))
    return replace(base, **stored)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
