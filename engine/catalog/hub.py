"""Sync model cards from the Hugging Face Hub API into the catalog.

``sync(catalog, limit=N)`` checks at once that the network may be used (offline
mode is on by default; it refuses with the way to turn it off) and then returns a
generator that walks ``GET {endpoint}/api/models?sort=downloads&direction=-1&
limit=…&full=true&cardData=true`` page by page, following the ``Link: <…>;
rel="next"`` cursor, and yields a ``SyncProgress`` after each page. Each page is
written in one transaction together with the cursor of the next page, so a sync
that is interrupted — Ctrl-C, a dropped connection, closing the generator — has
kept every page it finished and the next ``sync`` resumes from the saved cursor.

Rate limits are honoured: an HTTP 429 waits ``Retry-After`` seconds (capped) and
tries again; a 5xx or a dropped connection backs off and tries again; both are
bounded, after which a ``SyncError`` says how many cards were saved and how to
resume. Only the standard library is used (``urllib``).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import http.client
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import HgptError, OfflineError, UserInputError
from ..settings import environment
from .cards import CardError, normalize

log = logging.getLogger(__name__)
DEFAULT_ENDPOINT = "https://huggingface.co"
MAX_PAGE = 1000  # the Hub answers at most this many models per page
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class SyncError(HgptError, ConnectionError):
    """The Hub could not be read; what was fetched is kept and the sync can resume."""


@dataclass
class SyncProgress:
    fetched: int  # cards stored so far in this sync (resumed ones included)
    target: int
    page_cards: int
    resumed: bool = False
    done: bool = False
    waited: float = 0.0  # seconds spent waiting on rate limits and retries for this page


def default_endpoint() -> str:
    return (environment().hf_endpoint or DEFAULT_ENDPOINT).rstrip("/")


def first_url(endpoint: str, limit: int) -> str:
    query = urllib.parse.urlencode({"sort": "downloads", "direction": "-1",
                                    "limit": min(limit, MAX_PAGE), "full": "true", "cardData": "true"})
    return f"{endpoint}/api/models?{query}"


def sync(catalog, *, limit: int = 1000, endpoint: str | None = None, offline: bool = True,
         restart: bool = False, retries: int = 5, max_wait: float = 60.0, backoff: float = 1.0,
         timeout: float = 30.0) -> Iterator[SyncProgress]:
    """Check the arguments and offline mode now; return the generator that syncs."""
    endpoint = (endpoint or default_endpoint()).rstrip("/")
    if not re.match(r"https?://[^/\s]+", endpoint):
        raise UserInputError(f"{endpoint!r} is not an http(s) address; give one like {DEFAULT_ENDPOINT}")
    if offline:
        raise OfflineError(
            f"offline mode is on, so hgpt will not contact {endpoint}. Run: hgpt catalog sync --online "
            "(or set HGPT_OFFLINE=0 to allow network use)")
    if limit < 1:
        raise UserInputError(f"--limit must be at least 1, not {limit}")
    fetcher = Fetcher(retries=retries, max_wait=max_wait, backoff=backoff, timeout=timeout)
    return _pages(catalog, endpoint, limit, restart, fetcher)


def _pages(catalog, endpoint: str, limit: int, restart: bool, fetcher: "Fetcher") -> Iterator[SyncProgress]:
    url, fetched, resumed = _start(catalog, endpoint, limit, restart)
    while url and fetched < limit:
        try:
            body, next_url, waited = fetcher.get(url)
        except SyncError as exc:
            raise SyncError(f"{exc}. {fetched:,} cards are saved; run hgpt catalog sync again to resume") from None
        rows = _rows(body, url, limit - fetched)
        fetched += len(rows)
        url = next_url if rows else None
        with catalog.transaction() as conn:
            catalog.upsert_rows(rows)
            conn.execute("UPDATE sync_state SET next_url = ?, fetched = ?, updated_at = ? WHERE endpoint = ?",
                         (url, fetched, _now(), endpoint))
        yield SyncProgress(fetched, limit, len(rows), resumed, False, waited)
    with catalog.transaction() as conn:
        conn.execute("UPDATE sync_state SET finished_at = ?, next_url = NULL WHERE endpoint = ?",
                     (_now(), endpoint))
    yield SyncProgress(fetched, limit, 0, resumed, True)


def _start(catalog, endpoint: str, limit: int, restart: bool) -> tuple[str, int, bool]:
    """Where to begin: the saved cursor of an unfinished sync, or the first page."""
    row = catalog.connect().execute(
        "SELECT next_url, fetched, finished_at FROM sync_state WHERE endpoint = ?", (endpoint,)).fetchone()
    if row and not restart and not row["finished_at"] and row["next_url"]:
        with catalog.transaction() as conn:
            conn.execute("UPDATE sync_state SET target = ? WHERE endpoint = ?", (limit, endpoint))
        return row["next_url"], row["fetched"], True
    url, now = first_url(endpoint, limit), _now()
    with catalog.transaction() as conn:
        conn.execute(
            "INSERT INTO sync_state (endpoint, next_url, fetched, target, started_at, updated_at, finished_at)"
            " VALUES (?, ?, 0, ?, ?, ?, NULL) ON CONFLICT(endpoint) DO UPDATE SET next_url = excluded.next_url,"
            " fetched = 0, target = excluded.target, started_at = excluded.started_at,"
            " updated_at = excluded.updated_at, finished_at = NULL", (endpoint, url, limit, now, now))
    return url, 0, False


def _rows(body: bytes, url: str, room: int) -> list[dict]:
    try:
        items = json.loads(body)
    except json.JSONDecodeError:
        raise SyncError(f"{url} did not answer JSON; is the endpoint a Hugging Face Hub?") from None
    if not isinstance(items, list):
        raise SyncError(f"{url} answered {type(items).__name__}, not a list of models")
    synced, rows = _now(), []
    for item in items[:room]:
        try:
            rows.append(normalize(item, "hub", synced))
        except CardError as exc:
            log.warning("skipped a model from %s: %s", url, exc)
    return rows


class Fetcher:
    """GET with bounded retries: 429 waits Retry-After, 5xx and dropped connections back off."""

    def __init__(self, retries: int = 5, max_wait: float = 60.0, backoff: float = 1.0,
                 timeout: float = 30.0, sleep: Callable[[float], None] = time.sleep):
        self.retries, self.max_wait, self.backoff = retries, max_wait, backoff
        self.timeout, self.sleep = timeout, sleep

    def get(self, url: str) -> tuple[bytes, str | None, float]:
        """(body, the next page's URL or None, seconds waited)."""
        waited = 0.0
        for attempt in range(self.retries + 1):
            try:
                return (*self._once(url), waited)
            except _Retry as retry:
                if attempt == self.retries:
                    raise SyncError(f"{retry.reason} {self.retries + 1} times in a row") from None
                pause = min(retry.after if retry.after is not None else self.backoff * 2 ** attempt,
                            self.max_wait)
                log.info("%s; waiting %.1f s", retry.reason, pause)
                self.sleep(pause)
                waited += pause
        raise AssertionError("unreachable")

    def _once(self, url: str) -> tuple[bytes, str | None]:
        request = urllib.request.Request(url, headers={"User-Agent": "hgpt", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
                return body, _next_link(response.headers.get("Link", ""), url)
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                raise _Retry("the Hub answered 429 Too Many Requests",
                             _retry_after(exc.headers.get("Retry-After"))) from None
            if exc.code >= 500:
                raise _Retry(f"the Hub answered {exc.code} {exc.reason}") from None
            raise SyncError(f"{url} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise _Retry(f"could not read {urllib.parse.urlsplit(url).netloc} ({reason})") from None


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None):
        super().__init__(reason)
        self.reason, self.after = reason, after


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _next_link(header: str, base: str) -> str | None:
    match = _NEXT.search(header or "")
    return urllib.parse.urljoin(base, match.group(1)) if match else None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
