"""The model catalog: Hugging Face model cards in SQLite, read by model selection."""

from .db import Catalog, open_catalog

__all__ = ["Catalog", "open_catalog"]
