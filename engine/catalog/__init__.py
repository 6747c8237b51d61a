"""The model catalog: Hugging Face model cards in SQLite, read by model selection.

``db`` stores and queries, ``schema`` defines the file as numbered migrations
(``engine.store``), ``cards`` turns every card shape into rows, ``importer`` reads
card files, ``scan`` finds what is installed on this machine, ``hub`` syncs from
the Hub API.
"""

from .db import Catalog, CatalogCorruptError, clean_description, open_catalog, rebuild_catalog

__all__ = ["Catalog", "CatalogCorruptError", "clean_description", "open_catalog", "rebuild_catalog"]
