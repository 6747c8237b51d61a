"""The results cache: a task's result, content-addressed, reused instead of recomputed.

A result is keyed by what decides it (``ResultsCache.key``): the task type, the model
(its lock entry or snapshot and the sha256 of its files, ``provenance.model_identity``),
the source of the expert's code (``provenance.expert_code``),
the runtime's library versions, the settings that change output (expert options such
as a seed, the backend and device overrides, the controller for tasks it answers) and
the resolved inputs — each file by name and sha256, text as it is. A request re-run
with its first tasks unchanged takes their results from here; the executor reports
them with ``cached=True`` in ``TaskFinished`` and the record.

On disk, under ``<data folder>/cache/results``: ``<key[:2]>/<key>/entry.json`` (text,
data, provenance, and each output file's name, size and sha256) beside copies of the
output files. An entry is written in a temporary folder and renamed into place, so a
reader sees all of it or nothing. A hit is checked before use: a file that was deleted
or changed drops the entry and the task is computed again (a run that computes it
anyway, such as a replay or a re-run, puts the entry back whole). The folder is bounded
(``Settings.results_cache_mb``; 0 turns the cache off): after each write the least
recently used entries go until it fits. ``hgpt cache clear`` is not needed: deleting
the folder is always safe.

``TaskMemo`` is what one run's executor holds: the cache (read and written, or only
written, for a replay), results given by an earlier run (a re-run's unchanged tasks)
and the provenance of each task it runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from . import provenance as prov
from .experts.base import ExpertContext, ExpertResult

log = logging.getLogger(__name__)
ENTRY = "entry.json"
_totals: dict[str, int] = {}  # bytes this process believes a cache folder holds (rescanned when over)
_totals_lock = threading.Lock()
STEM_RE = re.compile(r"^\d+-(?P<stem>.+?)(?:-\d+)?$")


def output_name(path: Path) -> tuple[str, str]:
    """(stem, suffix) of an output file without its task number: ``3-speech.wav`` → speech, .wav."""
    match = STEM_RE.match(path.stem)
    return (match.group("stem") if match else path.stem), path.suffix


def copy_output(source: Path, ctx: ExpertContext) -> Path:
    """``source`` copied into the run folder under the task's own number."""
    stem, suffix = output_name(source)
    target = ctx.output_path(stem, suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ".bin")
    shutil.copyfile(source, target)
    return target


@dataclass
class Hit:
    result: ExpertResult
    provenance: dict


class ResultsCache:
    def __init__(self, root: str | Path, limit_mb: int = 512):
        self.root = Path(root)
        self.limit_bytes = max(0, int(limit_mb)) << 20

    @property
    def enabled(self) -> bool:
        return self.limit_bytes > 0

    # -- keys -------------------------------------------------------------------------------
    @staticmethod
    def key(task: str, expert, args: Mapping[str, Any], controller=None, request: str = "") -> str:
        identity = prov.model_identity(expert)
        inputs = {}
        for name, value in sorted(args.items()):
            if isinstance(value, Path):
                inputs[name] = {"file": value.name, "sha256": prov.sha256_of(value)}
            else:
                inputs[name] = {"text": "" if value is None else str(value)}
        what = {"format": prov.CACHE_FORMAT, "task": task, "model_id": expert.model_id, "code": prov.expert_code(expert),
                "model": identity["digest"], "runtime": prov.runtime_of(expert)["libraries"],
                "settings": prov.expert_settings(expert), "seed": prov.expert_seed(expert), "inputs": inputs}
        if expert.model_id == "controller":  # the controller follows the request's wording too
            what["controller"] = prov.controller_fingerprint(controller)
            what["request"] = request
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

    def _folder(self, key: str) -> Path:
        return self.root / key[:2] / key

    # -- reading ------------------------------------------------------------------------------
    def get(self, key: str, ctx: ExpertContext) -> Hit | None:
        """The cached result for ``key`` with its files copied into ``ctx``'s run folder,
        or None (not cached, or a cached file is gone or changed: the entry is dropped)."""
        if not self.enabled:
            return None
        folder = self._folder(key)
        entry_path = folder / ENTRY
        try:
            entry = json.loads(entry_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            self._drop(folder)
            return None
        sources = []
        for f in entry.get("files", []):
            path = folder / f["name"]
            try:
                intact = path.is_file() and path.stat().st_size == f["size"] and prov.sha256_of(path) == f["sha256"]
            except OSError:
                intact = False
            if not intact:  # deleted or changed since it was cached: compute it again
                log.info("results cache: %s lost %s; recomputing", key[:12], f["name"])
                self._drop(folder)
                return None
            sources.append(path)
        try:
            files = [copy_output(path, ctx) for path in sources]
            os.utime(entry_path)  # recently used: evicted last
        except OSError as exc:
            log.warning("results cache: could not reuse %s: %s", key[:12], exc)
            return None
        result = ExpertResult(text=entry.get("text", ""), files=files, data=dict(entry.get("data", {})))
        provenance = dict(entry.get("provenance", {}))
        provenance["cache"] = {"key": key, "stored_at": entry.get("stored_at"), "from_run": entry.get("run_id", "")}
        return Hit(result, provenance)

    # -- writing ------------------------------------------------------------------------------
    def put(self, key: str, result: ExpertResult, provenance: dict, run_id: str = "") -> bool:
        """Keep ``result`` under ``key`` (no-op when it would not fit); never raises."""
        if not self.enabled:
            return False
        try:
            files = [Path(f) for f in result.files]
            size = sum(f.stat().st_size for f in files)
            if size > self.limit_bytes:
                return False
            if self._folder(key).is_dir():
                if self._whole(self._folder(key)):
                    return False
                self._drop(self._folder(key))  # a file of it was deleted or changed: this result replaces it
            tmp = self.root / "tmp" / uuid.uuid4().hex
            tmp.mkdir(parents=True)
            try:
                listed = []
                for i, f in enumerate(files):
                    stem, suffix = output_name(f)
                    name = f"{i}-{stem}{suffix}"  # copied back as <task>-<stem><suffix>
                    shutil.copyfile(f, tmp / name)
                    listed.append({"name": name, "size": f.stat().st_size, "sha256": prov.sha256_of(f)})
                entry = {"key": key, "text": result.text, "data": prov._plain(result.data or {}), "files": listed,
                         "provenance": provenance, "stored_at": time.time(), "run_id": run_id}
                (tmp / ENTRY).write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
                target = self._folder(key)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.rename(tmp, target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except OSError as exc:  # a full disk or a race with another writer: nothing is lost
            log.info("results cache: %s not kept: %s", key[:12], exc)
            return False
        self._grew(size + len(json.dumps(entry)))
        return True

    @staticmethod
    def _whole(folder: Path) -> bool:
        """Whether an entry still has its record and every file at its size (``get`` hashes them)."""
        try:
            entry = json.loads((folder / ENTRY).read_text(encoding="utf-8"))
            return all((folder / f["name"]).stat().st_size == f["size"] for f in entry.get("files", []))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def _grew(self, added: int) -> None:
        """Evict only when this process's running total says the bound is passed, so a
        write does not walk the whole folder (which may hold many small entries)."""
        key = str(self.root)
        with _totals_lock:
            total = _totals.get(key)
        if total is None:
            total = self.size_bytes()
        else:
            total += added
        if total > self.limit_bytes:
            self.evict()
            total = self.size_bytes()
        with _totals_lock:
            _totals[key] = total

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last used, bytes, folder) of every entry."""
        out = []
        if not self.root.is_dir():
            return out
        for shard in self.root.iterdir():
            if shard.name == "tmp" or not shard.is_dir():
                continue
            for folder in shard.iterdir():
                try:
                    used = (folder / ENTRY).stat().st_mtime
                    size = sum(p.stat().st_size for p in folder.iterdir())
                except OSError:
                    continue
                out.append((used, size, folder))
        return out

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self.entries())

    def evict(self, limit_bytes: int | None = None) -> int:
        """Drop least recently used entries until the cache fits; returns how many went."""
        limit = self.limit_bytes if limit_bytes is None else limit_bytes
        entries = sorted(self.entries())
        total = sum(size for _, size, _ in entries)
        dropped = 0
        for _, size, folder in entries:
            if total <= limit:
                break
            self._drop(folder)
            total -= size
            dropped += 1
        return dropped

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @staticmethod
    def _drop(folder: Path) -> None:
        # rename first, so a reader never sees half an entry
        gone = folder.with_name(f".gone-{uuid.uuid4().hex}")
        try:
            os.rename(folder, gone)
        except OSError:
            return
        shutil.rmtree(gone, ignore_errors=True)


@dataclass
class Given:
    """A result an earlier run made, reused as it is (a re-run's unchanged task)."""

    result: ExpertResult
    provenance: dict
    from_run: str


@dataclass
class TaskMemo:
    """The executor's memory of results: given ones, the cache, and each task's provenance.

    ``read=False`` (a replay) computes every task; its results are still kept."""

    cache: ResultsCache | None = None
    controller: Any = None
    run_id: str = ""
    read: bool = True
    given: dict[int, Given] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)

    def recall(self, task, expert, args: Mapping[str, Any], ctx: ExpertContext) -> Hit | None:
        """The task's result without running it: given by an earlier run, or cached."""
        if task.id in self.given:
            given = self.given[task.id]
            files = [copy_output(Path(f), ctx) for f in given.result.files]
            provenance = dict(given.provenance) | {"reused_from": given.from_run}
            return Hit(ExpertResult(given.result.text, files, dict(given.result.data)), provenance)
        if self.cache is None or not self.cache.enabled:
            return None
        try:
            key = self.cache.key(task.task, expert, args, self.controller, ctx.request)
        except OSError as exc:  # an input vanished: the task itself will say so
            log.info("results cache: no key for task %s: %s", task.id, exc)
            return None
        self.keys[task.id] = key
        return self.cache.get(key, ctx) if self.read else None

    def keep(self, task, expert, args: Mapping[str, Any], result: ExpertResult) -> dict:
        """The provenance of a result just computed; the result goes into the cache."""
        try:
            provenance = prov.task_provenance(expert, args, result, controller=self.controller)
        except Exception as exc:  # noqa: BLE001 - provenance never fails a task
            log.warning("provenance of task %s: %s", task.id, exc)
            provenance = {"model_id": expert.model_id, "error": str(exc)}
        key = self.keys.get(task.id)
        if key is not None and self.cache is not None:
            provenance["cache_key"] = key
            self.cache.put(key, result, provenance, self.run_id)
        return provenance
