"""API keys and tokens: kept in the OS keyring where there is one, else in settings.json (0600).

``Settings`` has three secret fields, ``controller_api_key`` (the remote controller's),
``remote_token`` (the inference endpoint's) and ``api_key`` (the one programs must send
to the window's local API). ``Settings.save`` hands each to
``store``: with a usable keyring (``keyring`` installed and a real backend — the
macOS Keychain, Windows Credential Locker, the Secret Service on Linux) the secret
goes there and the file holds only the marker ``"keyring:"``; without one the file
holds the secret itself and is written readable by its owner only (mode 0600).
``load_settings`` gives stored values to ``fetch``, which reads the keyring for a
marker. Secrets are keyed by the data folder, so two data folders keep their own.
Neither is ever logged: the fields are left out of ``repr``, and the controller and
endpoint objects do not show them.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)
SERVICE = "hgpt"
MARKER = "keyring:"
SECRET_FIELDS = ("controller_api_key", "remote_token", "api_key")


def _keyring():
    """The keyring module when it has a real backend, else None."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring setup is no keyring
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def keyring_available() -> bool:
    return _keyring() is not None


def _user(field: str, home: Path) -> str:
    return f"{field}@{hashlib.sha256(str(Path(home).expanduser()).encode()).hexdigest()[:12]}"


def store(field: str, value: str, home: Path) -> str:
    """What settings.json keeps for ``field``: ``""``, the marker (in the keyring), or the value."""
    ring = _keyring()
    if ring is None:
        return value
    try:
        if value:
            ring.set_password(SERVICE, _user(field, home), value)
            return MARKER
        try:
            ring.delete_password(SERVICE, _user(field, home))
        except Exception:  # noqa: BLE001 - nothing stored
            pass
        return ""
    except Exception as exc:  # noqa: BLE001 - a locked keyring: the file keeps it (0600)
        log.warning("the keyring refused %s (%s); it is kept in settings.json, readable by you only",
                    field, type(exc).__name__)
        return value


def fetch(field: str, stored, home: Path) -> str:
    """The secret a settings.json value stands for."""
    if not isinstance(stored, str):
        return ""
    if stored != MARKER:
        return stored
    ring = _keyring()
    if ring is None:
        log.warning("%s is in a keyring that is not available now; set it again in Settings", field)
        return ""
    try:
        return ring.get_password(SERVICE, _user(field, home)) or ""
    except Exception as exc:  # noqa: BLE001
        log.warning("the keyring could not be read for %s (%s)", field, type(exc).__name__)
        return ""
