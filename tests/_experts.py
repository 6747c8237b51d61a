"""One loaded instance per real expert class for the whole test session.

Fixtures in several test files ask for the same expert (the voice speaks the
sentences Whisper transcribes, the showcase test runs the classifier again); this
cache makes each model load once per process, whichever file asks first.
"""

from __future__ import annotations

import pytest

_loaded: dict[type, object] = {}


def loaded(cls):
    """A loaded instance of ``cls``, or a skip naming what is missing on this machine."""
    if cls not in _loaded:
        expert = cls()
        reason = expert.missing()
        if reason:
            pytest.skip(reason)
        expert.ensure_loaded()
        _loaded[cls] = expert
    return _loaded[cls]
