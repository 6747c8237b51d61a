"""Models on demand: candidates that are not installed, and where each chosen model runs.

Selection ranks installed experts; a ``Source`` adds what else this machine could use
for a task, according to the inference mode and the network (``source_for``):

* ``local`` with the network allowed — ``FetchSource``: catalog cards of models that
  are not installed but can be pulled and run here (a Hub id with a runtime hgpt
  serves: transformers, diffusers, sentence-transformers). A chosen one becomes a
  ``PendingExpert``: pre-flight says it needs a download, and the run downloads it
  first or stops saying what to run (``engine.preflight``);
* ``hybrid`` — ``HybridSource``: installed models run here; any other candidate (the
  catalog's, or what the endpoint lists) runs at the inference endpoint as a
  ``RemoteExpert`` whose fallback is the best installed expert for the task;
* ``remote`` — ``RemoteSource``: every model runs at the endpoint, installed or not
  (the controller still answers here).

Offline (the default), there is no source: only installed models are candidates,
and a mode other than ``local`` is refused in one line (``offline_refusal``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import NoExpertError
from .experts.base import Expert

PULL_RUNTIMES = ("transformers", "diffusers", "sentence-transformers")
MODES = ("local", "hybrid", "remote")
MEMORY_FACTOR = 1.2  # a model in memory takes about this much more than its files


class PendingExpert(Expert):
    """A model that can be pulled but is not on disk yet: it runs nothing, it says how to get it."""

    runtime = "not installed"

    def __init__(self, model_id: str, tasks, *, size_mb: float = 0.0, card: dict | None = None, spec: str = ""):
        super().__init__()
        card = card or {}
        self.model_id = model_id
        self.tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
        self.size_mb = float(size_mb or card.get("size_mb") or 0.0)
        self.spec = spec or model_id  # what `hgpt models pull` takes for it
        self.description = card.get("description") or ""
        self.licence = card.get("licence") or ""
        self.downloads = int(card.get("downloads") or 0)
        self.source = f"hf:{model_id}"
        self.runtime = card.get("runtime") or "transformers"

    @property
    def command(self) -> str:
        return f"hgpt models pull {self.spec} --online"

    def missing(self) -> str | None:
        size = f" ({self.size_mb:,.0f} MB)" if self.size_mb else ""
        return f"{self.model_id} is not downloaded yet{size}; get it with: {self.command}"

    def footprint_mb(self) -> float:
        return self.size_mb * MEMORY_FACTOR

    def check_files(self) -> None:
        pass

    def setup(self) -> None:
        raise NoExpertError(self.missing())


def pullable(card: dict) -> bool:
    """A catalog card of a Hub model hgpt could download and run here."""
    return "/" in str(card.get("id", "")) and str(card.get("runtime") or "") in PULL_RUNTIMES


def _not_installed(catalog, task: str, k: int, exclude) -> list[dict]:
    if catalog is None:
        return []
    from .catalog.db import CatalogCorruptError

    try:
        cards = catalog.top_k(task, k + len(exclude), installed=False)
    except CatalogCorruptError:
        return []
    return [c for c in cards if c["id"] not in exclude]


@dataclass
class FetchSource:
    """Local mode with the network allowed: pullable models are candidates too."""

    catalog: object
    mode: str = "local"

    def candidates(self, task: str, k: int, exclude=()) -> list[dict]:
        cards = [c for c in _not_installed(self.catalog, task, k * 3, set(exclude)) if pullable(c)]
        return [c | {"installed": False, "fetch": True} for c in cards[:k]]

    def expert(self, model_id: str, card: dict, task: str, registry) -> Expert:
        if model_id in registry and registry.get(model_id).missing() is None:
            return registry.get(model_id)
        return PendingExpert(model_id, (task,), card=card)


@dataclass
class HybridSource:
    """Installed models run here, the rest at the endpoint (local ones as the fallback)."""

    catalog: object
    endpoint: object
    mode: str = "hybrid"

    def candidates(self, task: str, k: int, exclude=()) -> list[dict]:
        from .experts.remote import CALLS

        if task not in CALLS:
            return []
        exclude = set(exclude)
        listed = [{"id": m, "task": task, "downloads": 0, "description": f"{m} at {self.endpoint.name}",
                   "installed": False, "remote": self.endpoint.name}
                  for m in self.endpoint.for_task(task) if m not in exclude]
        seen = exclude | {c["id"] for c in listed}
        cards = [c | {"installed": False, "remote": self.endpoint.name}
                 for c in _not_installed(self.catalog, task, k, seen)]
        return (cards + listed)[:k]

    def expert(self, model_id: str, card: dict, task: str, registry) -> Expert:
        from .experts.remote import RemoteExpert

        local = registry.get(model_id) if model_id in registry else None
        if local is not None and local.missing() is None:
            return local
        fallback = next(iter(registry.for_task(task)), None)
        return RemoteExpert(model_id, (task,), self.endpoint, fallback=fallback, card=card)


@dataclass
class RemoteSource(HybridSource):
    """Every model runs at the endpoint."""

    mode: str = "remote"

    def expert(self, model_id: str, card: dict, task: str, registry) -> Expert:
        from .experts.remote import CALLS, RemoteExpert

        local = registry.get(model_id) if model_id in registry else None
        if local is not None and (model_id == "controller" or task not in CALLS):
            return local  # the controller answers here; a task the protocol has no call for stays local
        return RemoteExpert(model_id, (task,), self.endpoint, card=card)


@dataclass
class Sources:
    """What ``source_for`` decided, and the one line said when offline mode refuses it."""

    source: object | None = None
    notice: str = ""
    endpoint: object | None = field(default=None, repr=False)


def offline_refusal(settings) -> str:
    if settings.inference_mode == "local":
        return ""
    where = settings.remote_url or "Hugging Face Inference Providers"
    return (f"offline mode is on, so the inference endpoint ({where}) is not used and models are not fetched: "
            f"every task runs locally; turn offline mode off in Settings (or HGPT_OFFLINE=0) to use "
            f"{settings.inference_mode} inference")


def endpoint_for(settings):
    from .experts.remote import RemoteEndpoint

    return RemoteEndpoint(settings.remote_url, settings.remote_token, timeout=settings.remote_timeout)


def source_for(settings, catalog, endpoint=None) -> Sources:
    """The source of extra candidates for ``settings`` (see the module docstring)."""
    if settings.offline:
        return Sources(None, offline_refusal(settings))
    mode = settings.inference_mode if settings.inference_mode in MODES else "local"
    if mode == "local":
        return Sources(FetchSource(catalog))
    endpoint = endpoint or endpoint_for(settings)
    kind = HybridSource if mode == "hybrid" else RemoteSource
    return Sources(kind(catalog, endpoint), endpoint=endpoint)
