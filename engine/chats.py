"""Chat export and import: a conversation as Markdown or JSON, with its files beside it.

``export_chat(store, conversation_id, out_dir, "md" | "json")`` writes
``<out_dir>/<title>-<id>.md`` (or ``.json``) and ``<title>-<id>-files/`` with a copy of
every image, audio and other file the conversation holds — what the user attached
and what its runs wrote — linked from the Markdown by relative paths (images shown,
audio and other files as links). The JSON holds the conversation, its messages
(with the answer's details), and each run's whole record (plan, selections, results,
provenance), with paths made relative to the export and each file's sha256. Writing
goes to a temporary name first, so an export is whole or absent.

``import_chat(store, path, runs_dir)`` restores a JSON export as a new conversation:
each run gets its folder back under ``runs_dir`` (its files copied, checked against
their sha256 first, ``run.json`` rewritten to the new place) and its rows in the
history, all in one transaction; a run id that is taken gets a suffix. A file that
is not an hgpt export, from a newer format, or whose files are missing or changed is
refused in one line, and nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

from .errors import UserInputError

FORMAT = "hgpt-chat"
VERSION = 1
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".m4a"}


class ChatFileError(UserInputError):
    """An import file that cannot be restored (one line, nothing written)."""


def slug(title: str, limit: int = 40) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
    return (words[:limit].rstrip("-") or "chat")


def _sha(path: Path) -> str:
    from .provenance import sha256_of

    return sha256_of(path)


class _Files:
    """Copies a conversation's files into the export's folder, each once, by run."""

    def __init__(self, folder: Path, relative_to: Path):
        self.folder, self.base = folder, relative_to
        self.copied: dict[str, str] = {}  # source path -> path relative to the export
        self.listed: list[dict] = []

    def add(self, source: str | Path, group: str) -> str | None:
        source = Path(source)
        key = str(source)
        if key in self.copied:
            return self.copied[key]
        if not source.is_file():
            return None
        target = self.folder / _safe(group) / source.name
        n = 1
        while target.exists():
            n += 1
            target = target.with_name(f"{source.stem}-{n}{source.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        relative = target.relative_to(self.base).as_posix()
        self.copied[key] = relative
        self.listed.append({"path": relative, "sha256": _sha(target), "size": target.stat().st_size})
        return relative


def _rewrite(value, mapping: dict[str, str]):
    """``value`` (text, or a list or dict of texts) with each path in ``mapping`` replaced."""
    if isinstance(value, str):
        for old in sorted(mapping, key=len, reverse=True):
            value = value.replace(old, mapping[old])
        return value
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, mapping) for k, v in value.items()}
    return value


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)) or "files"


def _record_of(run) -> dict:
    """The run's run.json when its folder is still there; else what the history keeps."""
    path = Path(run.run_dir) / "run.json" if run.run_dir else None
    if path is not None and path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    return {"run_id": run.id, "request": run.request, "status": run.status, "plan": run.plan,
            "selections": run.selections, "tasks": run.results, "timings": run.timings, "answer": run.answer,
            "error": run.error, "run_dir": run.run_dir, "attachments": []}


def _run_files(run, record: dict) -> list[tuple[str, str | int]]:
    """(path, task id or "input") of every file of a run."""
    folder = Path(run.run_dir) if run.run_dir else None
    out: list[tuple[str, str | int]] = []
    for name in record.get("attachments", []):
        if folder is not None:
            out.append((str(folder / "inputs" / name), "input"))
    for key, info in sorted(record.get("tasks", {}).items(), key=lambda kv: int(kv[0])):
        for f in info.get("files", []):
            path = Path(f)
            out.append((str(path if path.is_absolute() or folder is None else folder / path), int(key)))
    return out


def export_chat(store, conversation_id: int, out_dir: str | Path, fmt: str = "md") -> Path:
    """Write the conversation to ``out_dir`` as ``md`` or ``json``; returns the file written."""
    if fmt not in ("md", "json"):
        raise UserInputError(f"export format {fmt!r} is not one hgpt writes; use md or json")
    conversation = store.conversation(conversation_id)
    messages = store.messages(conversation_id)
    runs = {r.id: r for r in store.runs(conversation_id)}
    out_dir = Path(out_dir).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot write to {out_dir} ({exc.strerror}); choose another folder") from None
    name = f"{slug(conversation.title)}-{conversation.id}"
    target = out_dir / f"{name}.{fmt}"
    files_dir = out_dir / f"{name}-files"
    staging = out_dir / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    staging.mkdir()
    try:
        files = _Files(staging / f"{name}-files", staging)
        records = {run_id: _record_of(run) for run_id, run in runs.items()}
        linked = {run_id: [(files.add(path, run_id), task) for path, task in _run_files(runs[run_id], record)]
                  for run_id, record in records.items()}
        for m in messages:  # attachments of messages without a run folder
            for a in m.attachments:
                files.add(a, f"message-{m.id}")
        if fmt == "md":
            text = _markdown(conversation, messages, runs, records, linked, files)
        else:
            text = json.dumps(_json(conversation, messages, runs, records, files), indent=2, ensure_ascii=False)
        (staging / target.name).write_text(text, encoding="utf-8")
        if files_dir.exists():
            shutil.rmtree(files_dir)
        if (staging / f"{name}-files").exists():
            os.replace(staging / f"{name}-files", files_dir)
        os.replace(staging / target.name, target)
    except OSError as exc:
        from .faults import storage_message

        raise UserInputError(f"the export was not written: {storage_message(exc, str(target))}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else ""


def _link(relative: str, label: str | None = None) -> str:
    label = label or Path(relative).name
    target = relative.replace(" ", "%20")
    if Path(relative).suffix.lower() in IMAGE_SUFFIXES:
        return f"![{label}]({target})"
    if Path(relative).suffix.lower() in AUDIO_SUFFIXES:
        return f"[▶ {label}]({target})"
    return f"[{label}]({target})"


def _markdown(conversation, messages, runs, records, linked, files: _Files) -> str:
    from . import __version__

    lines = [f"# {conversation.title}", "",
             f"_Exported from hgpt {__version__} on {_when(time.time())} · conversation {conversation.id} · "
             f"{len(messages)} messages_", ""]
    for m in messages:
        who = "You" if m.role == "user" else "hgpt"
        lines += [f"## {who} · {_when(m.created_at)}", "", m.content.strip() or "_(no text)_", ""]
        record = records.get(m.run_id or "", {})
        if m.role == "user":
            inputs = [rel for rel, task in linked.get(m.run_id or "", []) if task == "input" and rel]
            inputs = inputs or [files.copied.get(str(Path(a))) for a in m.attachments]
            if any(inputs):
                lines += ["Attached: " + " ".join(_link(r) for r in inputs if r), ""]
            continue
        details = _rewrite(m.details or {}, files.copied)  # paths in the text point at the copies
        if details.get("workflow"):
            lines += ["**How it was done**", ""] + [f"{w}" for w in details["workflow"]] + [""]
        if details.get("notes"):
            lines += ["**What went wrong**", ""] + [f"- {n}" for n in details["notes"]] + [""]
        plan = record.get("plan", [])
        if plan:
            lines += [f"**Plan** (run `{m.run_id}`)", "", "| task | model | status | output |", "|---|---|---|---|"]
            outputs: dict[int, list[str]] = {}
            for rel, task in linked.get(m.run_id or "", []):
                if rel and task != "input":
                    outputs.setdefault(int(task), []).append(rel)
            for task in plan:
                info = record.get("tasks", {}).get(str(task["id"]), {})
                text = (info.get("text") or info.get("error") or "").replace("|", "\\|").replace("\n", " ")[:120]
                status = info.get("status", "not run") + (" (cached)" if info.get("cached") else "")
                lines.append(f"| [{task['id']}] {task['task']} | {info.get('model_id', '')} | {status} | {text} |")
            lines.append("")
            for task_id in sorted(outputs):
                lines += [f"Task {task_id}: " + " ".join(_link(r) for r in outputs[task_id]), ""]
    return "\n".join(lines).rstrip() + "\n"


def _relative_record(record: dict, linked: list[tuple[str | None, object]]) -> dict:
    """The record with the run folder's paths replaced by the export's relative paths."""
    record = json.loads(json.dumps(record, default=str))
    by_task: dict[str, list[str]] = {}
    inputs: list[str] = []
    for rel, task in linked:
        if rel is None:
            continue
        (inputs if task == "input" else by_task.setdefault(str(task), [])).append(rel)
    for key, info in record.get("tasks", {}).items():
        if info.get("files"):
            info["files"] = by_task.get(key, [])
    record["artifacts"] = [f for key in sorted(by_task, key=int) for f in by_task[key]]
    record["inputs"] = inputs
    record.pop("run_dir", None)
    return record


def _json(conversation, messages, runs, records, files: _Files) -> dict:
    from . import __version__

    linked_by_run = {}
    for run_id, run in runs.items():
        linked_by_run[run_id] = [(files.copied.get(path), task) for path, task in _run_files(run, records[run_id])]
    return {
        "format": FORMAT, "version": VERSION, "hgpt": __version__, "exported_at": time.time(),
        "conversation": {"id": conversation.id, "title": conversation.title,
                         "created_at": conversation.created_at, "updated_at": conversation.updated_at},
        "messages": [{"role": m.role, "content": m.content, "details": _rewrite(m.details, files.copied),
                      "run_id": m.run_id,
                      "created_at": m.created_at,
                      "attachments": [p for p in (files.copied.get(str(Path(a))) for a in m.attachments) if p]}
                     for m in messages],
        "runs": [{"id": run_id, "status": run.status, "request": run.request, "answer": run.answer,
                  "error": run.error, "started_at": run.started_at, "finished_at": run.finished_at,
                  "record": _relative_record(records[run_id], linked_by_run[run_id])}
                 for run_id, run in runs.items()],
        "files": files.listed,
    }


# -- import -------------------------------------------------------------------------------------
def read_export(path: str | Path) -> dict:
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChatFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ChatFileError(f"{path} is not an hgpt chat export (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ChatFileError(f"{path} is not an hgpt chat export (export one with File → Export or "
                            "'hgpt chats export ID --format json')")
    version = data.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ChatFileError(f"{path} is a damaged hgpt chat export (its version is {version!r}, not a "
                            "number); export the chat again")
    if version > VERSION:
        raise ChatFileError(f"{path} is chat export format {version}; this hgpt reads up to "
                            f"{VERSION}. Update hgpt")
    problem = _shape_problem(data)
    if problem:
        raise ChatFileError(f"{path} is a damaged hgpt chat export ({problem}); export the chat again")
    return data


def _shape_problem(data: dict) -> str | None:
    """What in a current-format export is not where or what the import expects, or None."""
    if not isinstance(data.get("conversation", {}), dict):
        return "its conversation is not an object"
    for key in ("messages", "runs", "files"):
        if not isinstance(data.get(key, []), list):
            return f"its {key} are not a list"
    for i, f in enumerate(data.get("files", [])):
        if not isinstance(f, dict) or not isinstance(f.get("path"), str) or not isinstance(f.get("sha256", ""), str):
            return f"file {i} has no path"
    ids = set()
    for i, run in enumerate(data.get("runs", [])):
        if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not run["id"].strip():
            return f"run {i} has no id"
        if run["id"] in ids:
            return f"run {run['id']} is there twice"
        ids.add(run["id"])
        record = run.get("record", {})
        if not isinstance(record, dict) or not isinstance(record.get("tasks", {}), dict) \
                or not isinstance(record.get("inputs", []), list):
            return f"run {run['id']}'s record is not a run record"
        for key, info in record.get("tasks", {}).items():
            if not str(key).isdigit() or not isinstance(info, dict) or not isinstance(info.get("files", []), list) \
                    or not all(isinstance(f, str) for f in info.get("files", [])):
                return f"run {run['id']}'s task {key} is not a task record"
        if not all(isinstance(f, str) for f in record.get("inputs", [])):
            return f"run {run['id']}'s inputs are not file names"
    for i, m in enumerate(data.get("messages", [])):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return f"message {i} is neither the user's nor the assistant's"
        if not isinstance(m.get("content", ""), str) or not isinstance(m.get("details") or {}, dict):
            return f"message {i}'s text or details are not text"
        if not isinstance(m.get("attachments", []), list) or not all(isinstance(a, str) for a in m.get("attachments", [])):
            return f"message {i}'s attachments are not file names"
        if m.get("run_id") is not None and not isinstance(m["run_id"], str):
            return f"message {i}'s run id is not a run id"
    return None


def import_chat(store, path: str | Path, runs_dir: str | Path):
    """Restore a JSON export as a new conversation; returns it (``engine.history.Conversation``)."""
    path = Path(path).expanduser()
    data = read_export(path)
    base = path.parent
    for f in data.get("files", []):  # every file first: nothing is written for a broken export
        source = _inside(base, f.get("path", ""), path)
        if not source.is_file():
            raise ChatFileError(f"{path}: its file {f['path']} is missing; copy the export's folder with it")
        if f.get("sha256") and _sha(source) != f["sha256"]:
            raise ChatFileError(f"{path}: its file {f['path']} was changed since the export (sha256 differs)")
    listed = {f["path"] for f in data.get("files", [])}
    for run in data.get("runs", []):  # and every file a run names is one of those
        record = run.get("record") or {}
        named = list(record.get("inputs", [])) + [f for info in record.get("tasks", {}).values()
                                                  for f in info.get("files", [])]
        for rel in named:
            _inside(base, rel, path)
            if rel not in listed:
                raise ChatFileError(f"{path}: run {run['id']} names {rel}, which is not in the export's file list; "
                                    "it was not made by hgpt")
    runs_dir = Path(runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    try:
        restored_runs, id_map, paths = [], {}, {}
        for run in data.get("runs", []):
            new_id = _free_run_id(store, runs_dir, str(run["id"]))
            id_map[run["id"]] = new_id
            folder = runs_dir / new_id
            staging = runs_dir / f".{new_id}.import"
            record = dict(run.get("record") or {})
            inputs = []
            for rel in record.pop("inputs", []):
                target = staging / "inputs" / Path(rel).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(_inside(base, rel, path), target)
                inputs.append(target.name)
            artifacts = []
            placed_at: dict[str, str] = {}
            for key, info in record.get("tasks", {}).items():
                placed = []
                for rel in info.get("files", []):
                    target = staging / Path(rel).name
                    staging.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(_inside(base, rel, path), target)
                    placed.append(str(folder / target.name))
                    placed_at[rel] = str(folder / target.name)
                    artifacts.append((int(key), str(folder / target.name)))
                info["files"] = placed
            staging.mkdir(parents=True, exist_ok=True)
            record.update(run_id=new_id, run_dir=str(folder), attachments=inputs,
                          artifacts=[a for _, a in artifacts])
            record.setdefault("origin", {})
            record["origin"] = record["origin"] or {"kind": "import", "run_id": run["id"], "file": str(path)}
            (staging / "run.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
            os.replace(staging, folder)
            made.append(folder)
            restored_runs.append({**run, "id": new_id, "run_dir": str(folder), "record": record,
                                  "artifacts": artifacts})
            paths.update(placed_at)
        messages = []
        for m in data.get("messages", []):
            attachments = [str(runs_dir / id_map.get(m.get("run_id"), "") / "inputs" / Path(a).name)
                           if m.get("run_id") in id_map else a for a in m.get("attachments", [])]
            messages.append({**m, "run_id": id_map.get(m.get("run_id"), None), "attachments": attachments,
                             "details": _rewrite(m.get("details") or {}, paths)})
        conversation = data.get("conversation", {})
        return store.restore_conversation(conversation.get("title") or "Imported chat", messages, restored_runs)
    except ChatFileError:
        raise
    except Exception:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        for leftover in runs_dir.glob(".*.import"):
            shutil.rmtree(leftover, ignore_errors=True)


def _inside(base: Path, relative: str, export: Path) -> Path:
    """A path the export names, which must stay inside the export's folder."""
    target = (base / relative).resolve()
    if not relative or not target.is_relative_to(base.resolve()):
        raise ChatFileError(f"{export}: names a file outside its folder ({relative!r}); it was not made by hgpt")
    return target


def _free_run_id(store, runs_dir: Path, wanted: str) -> str:
    wanted = _safe(wanted)
    candidate, n = wanted, 1
    while (runs_dir / candidate).exists() or store.has_run(candidate):
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate
