"""What a server is allowed to do: where it listens, who may call it, how much it takes.

``ServeConfig`` is checked before anything listens (``check``): a host other than
loopback needs an API key, because the API runs models and writes files for whoever
reaches it. The key is compared in constant time (``key_matches``) and never appears
in a repr, a log line or an error message.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass, field

from engine import errors

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
MB = 1024 * 1024


def is_loopback_host(host: str) -> bool:
    """Is ``host`` (a bind address or a Host header's name) this machine only?"""
    host = (host or "").strip().strip("[]").lower()
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8004
    api_key: str = field(default="", repr=False)  # never shown
    running: int = 2  # runs (or expert calls) at once; the controller serialises its own calls
    waiting: int = 32  # requests that may wait for a slot; beyond that 503 + Retry-After
    max_body_mb: float = 32.0  # a whole request body
    max_file_mb: float = 20.0  # one decoded attachment
    max_files: int = 8  # attachments in one request
    cors_origins: tuple[str, ...] = ()  # closed by default: no browser page may call the API
    mcp: bool = True  # the MCP streamable-HTTP endpoint at /mcp

    @property
    def loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * MB)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    def check(self) -> "ServeConfig":
        """Refuse a configuration that would expose the engine: another host without a key."""
        if not self.loopback and not self.api_key:
            raise errors.UserInputError(
                f"serving on {self.host} lets other machines run models here; set an API key "
                "(--api-key-file FILE, or HGPT_API_KEY) or serve on 127.0.0.1")
        if self.api_key and len(self.api_key) < 16:
            raise errors.UserInputError("the API key is shorter than 16 characters; use a longer random key "
                                 "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if not (0 <= self.port <= 65535):
            raise errors.UserInputError(f"port {self.port} is not a TCP port (0-65535)")
        if self.running < 1 or self.waiting < 0:
            raise errors.UserInputError("--parallel must be at least 1 and --queue at least 0")
        return self

    def key_matches(self, offered: str | None) -> bool:
        """Constant-time comparison of an offered key with ours (no key set: everyone matches)."""
        if not self.api_key:
            return True
        return hmac.compare_digest((offered or "").encode("utf-8"), self.api_key.encode("utf-8"))

    @property
    def display_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
