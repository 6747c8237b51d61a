"""Offline means offline: no socket to anything but this machine while offline mode is on.

Two layers, because libraries reach for the network in two ways:

* **the libraries' own switches** — ``enforce(True)`` (called when an ``Engine`` is
  built) sets ``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``, ``HF_DATASETS_OFFLINE``
  and the telemetry opt-outs, and flips the copies that ``huggingface_hub`` and
  ``transformers`` took of them at import time if they are already imported, so a
  loader asks its cache and never the Hub. ``enforce(False)`` puts back what was
  there before, so turning offline mode off in Settings really turns it off;
* **a last line** — ``enforce(True)`` also installs (once per process) a
  ``sys.addaudithook`` hook that refuses ``socket.connect`` and ``getaddrinfo`` for
  any address that is not loopback with an ``OfflineError`` saying how to go online.
  Audit hooks cannot be removed, so the hook checks a flag that ``enforce`` sets;
  with offline mode off it lets everything through. Native code that opens its own
  sockets (none of hgpt's runtimes does) is outside what Python can see.

``block_network()`` is the test helper, in the manner of huggingface_hub's
``offline()``: it patches ``socket.socket.connect``, ``connect_ex``,
``socket.create_connection`` and ``socket.getaddrinfo`` to fail for non-loopback
addresses and records every attempt, so a test can assert that a whole real run
tried none.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Iterator

from .errors import OfflineError

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_NOT_SET = object()

_state = {"offline": False, "hook": False}
_saved: dict[str, object] = {}
_lock = threading.Lock()


# -- what counts as this machine -----------------------------------------------------------
def is_loopback(host) -> bool:
    """True for loopback addresses and names, Unix socket paths and a passive (None) host."""
    if host is None or isinstance(host, (bytes, bytearray)) and not host:
        return True
    if isinstance(host, (bytes, bytearray)):
        host = bytes(host).decode(errors="replace")
    host = str(host).strip().strip("[]").split("%", 1)[0].rstrip(".").lower()
    if not host or host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


INTERNET = (socket.AF_INET, socket.AF_INET6)


def _host_of(address, family=socket.AF_INET):
    """The host of an internet socket address ((host, port[, flow, scope])), else None:
    Unix paths, netlink and other local families are not the network."""
    if family in INTERNET and isinstance(address, tuple) and address:
        return address[0]
    return None


def refusal(host, port=None) -> OfflineError:
    where = f"{host}:{port}" if port not in (None, "", 0) else str(host)
    return OfflineError(
        f"offline mode is on, so hgpt does not connect to {where}; turn offline mode off in "
        "Settings (or set HGPT_OFFLINE=0) to allow network access")


# -- the production guard --------------------------------------------------------------------
def enforce(offline: bool) -> None:
    """Apply offline mode to this process (env switches and the socket audit hook)."""
    with _lock:
        if offline:
            _set_env()
            _install_hook()
        else:
            _restore_env()
        _state["offline"] = bool(offline)
        _sync_imported(offline)


def is_enforced() -> bool:
    return bool(_state["offline"])


def _set_env() -> None:
    for name, value in OFFLINE_ENV.items():
        if name not in _saved:
            _saved[name] = os.environ.get(name, _NOT_SET)
        os.environ[name] = value


def _restore_env() -> None:
    for name, value in _saved.items():
        if value is _NOT_SET:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value  # type: ignore[assignment]
    _saved.clear()


def _env_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _sync_imported(offline: bool) -> None:
    """Libraries that read the env at import: update their copies if already imported."""
    value = bool(offline) or _env_offline()
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
        constants.HF_HUB_OFFLINE = value
    hub = sys.modules.get("transformers.utils.hub")
    if hub is not None and hasattr(hub, "_is_offline_mode"):
        hub._is_offline_mode = value


def _install_hook() -> None:
    if not _state["hook"]:
        sys.addaudithook(_audit)
        _state["hook"] = True


def _audit(event: str, args) -> None:
    if not _state["offline"]:
        return
    if event == "socket.connect":
        host = _host_of(args[1], getattr(args[0], "family", socket.AF_INET))
        if host is not None and not is_loopback(host):
            raise refusal(host, args[1][1] if len(args[1]) > 1 else None)
    elif event == "socket.getaddrinfo":
        if not is_loopback(args[0]):
            raise refusal(args[0], args[1])


# -- the test helper ----------------------------------------------------------------------------
@dataclass
class NetworkLog:
    """What ``block_network`` saw: refused non-loopback attempts, allowed loopback ones."""

    refused: list[tuple[str, str]] = field(default_factory=list)  # (call, "host:port")
    loopback: list[tuple[str, str]] = field(default_factory=list)

    def _note(self, call: str, host, port) -> bool:
        entry = (call, f"{host}:{port}")
        if is_loopback(host):
            self.loopback.append(entry)
            return True
        self.refused.append(entry)
        return False


@contextlib.contextmanager
def block_network() -> Iterator[NetworkLog]:
    """Within the block, any connection or name lookup for a non-loopback address fails
    with ``OfflineError`` and is recorded in the yielded ``NetworkLog``."""
    log = NetworkLog()
    real = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
            "create_connection": socket.create_connection, "getaddrinfo": socket.getaddrinfo}

    def connect(self, address):
        host = _host_of(address, self.family)
        if host is not None and not log._note("connect", host, address[1] if len(address) > 1 else ""):
            raise refusal(host, address[1])
        return real["connect"](self, address)

    def connect_ex(self, address):
        host = _host_of(address, self.family)
        if host is not None and not log._note("connect_ex", host, address[1] if len(address) > 1 else ""):
            raise refusal(host, address[1])
        return real["connect_ex"](self, address)

    def create_connection(address, *args, **kwargs):
        if not log._note("create_connection", address[0], address[1]):
            raise refusal(address[0], address[1])
        return real["create_connection"](address, *args, **kwargs)

    def getaddrinfo(host, port, *args, **kwargs):
        if not log._note("getaddrinfo", host, port):
            raise refusal(host, port)
        return real["getaddrinfo"](host, port, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.create_connection, socket.getaddrinfo = create_connection, getaddrinfo
    try:
        yield log
    finally:
        socket.socket.connect, socket.socket.connect_ex = real["connect"], real["connect_ex"]
        socket.create_connection, socket.getaddrinfo = real["create_connection"], real["getaddrinfo"]
