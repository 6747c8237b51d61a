"""The expert registry: experts by model id, looked up by task type.

Built-in experts arrive through the ``hgpt.experts`` entry point exactly like an
outside plugin's: each entry point names a ``register(registry)`` function. A
duplicate model id is refused; an unknown one raises an error listing the known.

A plugin that fails to load does not stop the others; its error is kept in
``plugin_errors`` (entry point name -> one-line message) for the user to see
(``hgpt models list`` prints them after its table).
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Iterable

from ..errors import HgptError, UnknownNameError
from .base import Expert

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "hgpt.experts"


class DuplicateExpertError(HgptError, ValueError):
    pass


class ExpertRegistry:
    """``settings`` (optional) tells plugins where the data folder is (e.g. for ONNX exports)."""

    def __init__(self, experts: Iterable[Expert] = (), settings=None):
        self._experts: dict[str, Expert] = {}
        self.plugin_errors: dict[str, str] = {}
        self.settings = settings
        for expert in experts:
            self.register(expert)

    def register(self, expert: Expert) -> Expert:
        if not expert.model_id or not expert.tasks:
            raise ValueError(f"{expert!r} must set model_id and tasks")
        if expert.model_id in self._experts:
            raise DuplicateExpertError(f"an expert for {expert.model_id!r} is already registered")
        self._experts[expert.model_id] = expert
        return expert

    def get(self, model_id: str) -> Expert:
        try:
            return self._experts[model_id]
        except KeyError:
            raise UnknownNameError("model", model_id, list(self._experts)) from None

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._experts

    def __iter__(self):
        return iter(self._experts.values())

    def __len__(self) -> int:
        return len(self._experts)

    def for_task(self, task: str, runnable_only: bool = True) -> list[Expert]:
        experts = [e for e in self._experts.values() if task in e.tasks]
        if runnable_only:
            experts = [e for e in experts if e.missing() is None]
        return sorted(experts, key=lambda e: -e.downloads)

    def tasks(self, runnable_only: bool = True) -> set[str]:
        return {t for e in self._experts.values() for t in e.tasks
                if not runnable_only or e.missing() is None}

    def load_plugins(self, group: str = ENTRY_POINT_GROUP) -> "ExpertRegistry":
        for ep in entry_points(group=group):
            try:
                ep.load()(self)
            except Exception as exc:  # a broken plugin must not take the app down
                self.plugin_failed(ep.name, exc)
        return self

    def plugin_failed(self, name: str, exc: BaseException) -> None:
        """Keep plugin ``name``'s error for the user (and log it)."""
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.warning("expert plugin %s failed to load: %s", name, message)
        self.plugin_errors[name] = message

    def unload_all(self) -> None:
        for expert in self._experts.values():
            expert.unload()


def build_registry(settings=None) -> ExpertRegistry:
    """A registry with every installed plugin (built-ins included), for ``settings``."""
    return ExpertRegistry(settings=settings).load_plugins()
