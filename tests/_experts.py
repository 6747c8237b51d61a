"""One loaded instance per real expert class for the whole test session.

Fixtures in several test files ask for the same expert (the voice speaks the
sentences Whisper transcribes, the showcase test runs the classifier again); this
cache makes each model load once per process, whichever file asks first.
"""

from __future__ import annotations

import pytest

_loaded: dict[type, object] = {}


def loaded(cls):
    """A loaded instance of ``cls``; a failure naming what is missing when it cannot load
    (``scripts/setup --test`` installs every expert the tests use)."""
    if cls not in _loaded:
        expert = cls()
        reason = expert.missing()
        if reason:
            pytest.fail(f"{cls.__name__} cannot load here: {reason}", pytrace=False)
        expert.ensure_loaded()
        _loaded[cls] = expert
    return _loaded[cls]
