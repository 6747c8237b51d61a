"""Expert models: one small contract, one registry, built-ins registered as plugins."""

from .base import Expert, ExpertContext, ExpertResult
from .registry import ExpertRegistry, build_registry

__all__ = ["Expert", "ExpertContext", "ExpertResult", "ExpertRegistry", "build_registry"]
