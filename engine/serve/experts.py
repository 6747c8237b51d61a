"""One expert, called directly: the Hugging Face inference task protocol and MCP's task tools.

``ExpertCalls.call(task, args, model_id)`` runs one installed expert on arguments a
client sent (files already decoded into the call's own folder), under the engine's
memory budget, and returns its ``ExpertResult``. Each call gets a folder beside the
runs (``runs/<id>/``: ``inputs/``, the outputs, ``call.json``), so its files have
URLs like a run's. A direct call is not a pipeline run: it is not planned and not
kept in the history store (``call.json`` is its record).

``hf_args`` reads a request in the shapes the Hugging Face Inference API takes (raw
bytes for an image or audio, or JSON ``{"inputs": …, "parameters": …}``; the
HuggingGPT reference's model server keys ``img_url``/``audio_url``/``text`` are read
too, as data URLs only); ``hf_answer`` writes the result in the shape that API
returns for the task (a list of labels, ``{"text": …}``, image or audio bytes…), or,
with ``?format=hgpt``, as hgpt's own ``{text, data, files}``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from engine import TASK_TYPES, ExpertContext, errors

from .files import RunFiles, Uploads, media_type

FILE_MODALITIES = ("image", "audio", "video")
# request keys that fill a task type's argument slot (the HF API's and the reference's names)
ALIASES = {
    "text": ("text", "question", "prompt", "source_sentence", "sentence", "inputs"),
    "context": ("context",),
    "text2": ("text2", "target_sentence", "sentences"),
    "labels": ("labels", "candidate_labels"),
    "image": ("image", "img", "img_url", "image_url"),
    "audio": ("audio", "audio_url"),
}
LABELLED = ("image-classification", "audio-classification", "text-classification")
GENERATED = {"summarization": "summary_text", "translation": "translation_text",
             "text-generation": "generated_text", "text2text-generation": "generated_text",
             "conversational": "generated_text", "image-to-text": "generated_text"}


class NotFound(errors.HgptError, LookupError):
    """No such model, or no installed model for a task."""


def tool_name(task: str) -> str:
    return task.replace("-", "_")


def new_call_dir(runs_dir: Path) -> tuple[str, Path]:
    runs_dir.mkdir(parents=True, exist_ok=True)
    while True:
        call_id = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
        path = runs_dir / call_id
        try:
            path.mkdir()
            return call_id, path
        except FileExistsError:
            continue


class ExpertCalls:
    def __init__(self, engine):
        self.engine = engine

    # -- which expert ------------------------------------------------------------------------------
    def installed_tasks(self) -> list[str]:
        """Task types some installed expert can run here, in the task table's order."""
        served = self.engine.registry.tasks()
        return [name for name in TASK_TYPES if name in served]

    def experts(self) -> list[dict]:
        out = []
        for expert in self.engine.registry:
            missing = expert.missing()
            out.append({"id": expert.model_id, "tasks": list(expert.tasks), "runtime": expert.runtime,
                        "loaded": expert.loaded, "available": missing is None,
                        **({"missing": missing} if missing else {})})
        return out

    def choose(self, task: str, model_id: str | None = None):
        """The expert for ``task``: ``model_id`` if given (it must serve the task and be able to
        run here), else the installed one selection would rank first (most downloads)."""
        if task not in TASK_TYPES:
            raise NotFound(f"unknown task {task!r}; GET /models lists the installed models and their tasks")
        registry = self.engine.registry
        if model_id:
            if model_id not in registry:
                raise NotFound(f"no installed model {model_id!r}; GET /models lists them")
            expert = registry.get(model_id)
            if task not in expert.tasks:
                raise NotFound(f"{model_id} does not do {task}; it does {', '.join(expert.tasks)}")
            missing = expert.missing()
            if missing:
                raise NotFound(f"{model_id} cannot run here: {missing}")
            return expert
        found = registry.for_task(task)
        if not found:
            raise NotFound(f"no installed model does {task}; `hgpt models list` shows what is installed")
        return found[0]

    def default_task(self, expert, payload: Any) -> str:
        """The task a ``POST /models/{id}`` without a task means: the expert's only task, or
        the one the payload's shape names (``source_sentence`` → sentence-similarity, …)."""
        if len(expert.tasks) == 1:
            return expert.tasks[0]
        inputs = payload.get("inputs") if isinstance(payload, dict) else None
        params = payload.get("parameters") if isinstance(payload, dict) else None
        if isinstance(inputs, dict) and "source_sentence" in inputs and "sentence-similarity" in expert.tasks:
            return "sentence-similarity"
        if isinstance(params, dict) and "candidate_labels" in params and "zero-shot-classification" in expert.tasks:
            return "zero-shot-classification"
        return expert.tasks[0]

    # -- running it ---------------------------------------------------------------------------------
    def call(self, expert, task: str, args: dict, folder: Path, cancel) -> Any:
        """Run ``expert`` on ``args`` (checked here: every required slot filled) in ``folder``."""
        task_type = TASK_TYPES[task]
        for key in task_type.required_args():
            if key not in args or args[key] in ("", None):
                raise errors.UserInputError(
                    f"{task} needs {key!r} ({task_type.args[key]}); got {', '.join(args) or 'nothing'}")
        unknown = set(args) - set(task_type.args)
        if unknown:
            raise errors.UserInputError(f"{task} takes {', '.join(task_type.args)}; not {', '.join(sorted(unknown))}")
        controller = self.engine.controller if expert.model_id == "controller" else None
        ctx = ExpertContext(folder, 0, controller, cancel)
        started = time.perf_counter()
        record = {"task": task, "model_id": expert.model_id,
                  "args": {k: (Path(v).name if task_type.args[k] in FILE_MODALITIES else v) for k, v in args.items()}}
        try:
            cancel.check()
            with self.engine.memory.use(expert):
                result = expert(task, args, ctx)
        except Exception as exc:
            for path in ctx.written:
                Path(path).unlink(missing_ok=True)
            if isinstance(exc, MemoryError):
                expert.unload()
                message = f"{expert.model_id} ran out of memory on {task} and was unloaded; try a smaller input"
            elif isinstance(exc, errors.HgptError):
                message = " ".join(str(exc).split())
            else:
                message = f"{expert.model_id} failed on {task}: {type(exc).__name__}: {' '.join(str(exc).split())}"
            record.update(status="failed", error=message, seconds=round(time.perf_counter() - started, 3))
            _write_json(folder / "call.json", record)
            if isinstance(exc, errors.Cancelled):
                raise
            raise errors.ExpertError(message) from exc
        record.update(status="done", text=result.text, data=result.data,
                      files=[Path(f).name for f in result.files], seconds=round(time.perf_counter() - started, 3))
        _write_json(folder / "call.json", record)
        return result


def _write_json(path: Path, data: dict) -> None:
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    except OSError:
        pass


# -- the Hugging Face inference task protocol ---------------------------------------------------------
def hf_args(task: str, body: bytes, content_type: str, uploads: Uploads) -> tuple[dict, dict]:
    """``(args, parameters)`` for ``task`` from a request body in the HF Inference API's shapes."""
    task_type = TASK_TYPES[task]
    file_slots = [k for k, m in task_type.args.items() if m in FILE_MODALITIES]
    text_slots = [k for k, m in task_type.args.items() if m == "text"]
    is_json = "json" in (content_type or "").lower() or (not content_type and body[:1] in (b"{", b"["))
    if not is_json:
        if not body:
            raise errors.UserInputError(f"the request is empty; send the {task_type.args and next(iter(task_type.args))} "
                                        "as the body, or JSON {\"inputs\": …}")
        if not file_slots:
            raise errors.UserInputError(f"{task} takes text: send JSON {{\"inputs\": \"…\"}}")
        return {file_slots[0]: uploads.add_bytes(body, _suffix_of(content_type))}, {}
    try:
        payload = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise errors.UserInputError("the body is not valid JSON; send {\"inputs\": …, \"parameters\": {…}}") from None
    if not isinstance(payload, dict):
        raise errors.UserInputError("the body must be a JSON object: {\"inputs\": …, \"parameters\": {…}}")
    params = payload.get("parameters") or {}
    if not isinstance(params, dict):
        raise errors.UserInputError("\"parameters\" must be an object")
    inputs = payload.get("inputs")
    if inputs is None:  # the reference model server's keys at the top level
        inputs = {k: v for k, v in payload.items() if k != "parameters"}
    args: dict = {}
    if isinstance(inputs, str):
        first = task_type.required_args()[0]
        slot = first if task_type.args[first] in FILE_MODALITIES or not file_slots else file_slots[0]
        if task_type.args[slot] in FILE_MODALITIES:
            args[slot] = uploads.add_encoded(inputs, what=f"the {task_type.args[slot]}")
        else:
            args[slot] = inputs
    elif isinstance(inputs, dict):
        for key, modality in task_type.args.items():
            value = next((inputs[name] for name in ALIASES.get(key, (key,)) if inputs.get(name) not in (None, "")), None)
            if value is None:
                continue
            if modality in FILE_MODALITIES:
                if not isinstance(value, str):
                    raise errors.UserInputError(f"{key} must be a base64 string or a data: URL")
                args[key] = uploads.add_encoded(value, what=f"the {modality}")
            elif isinstance(value, list) and key == "text2":
                args[key] = value  # several sentences to compare: one call each (hf_call)
            else:
                args[key] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    else:
        raise errors.UserInputError("\"inputs\" must be a string (text, or a file as base64/data: URL) or an object")
    labels = params.get("candidate_labels")
    if labels and "labels" in task_type.args and "labels" not in args:
        args["labels"] = ", ".join(map(str, labels)) if isinstance(labels, list) else str(labels)
    if not args and text_slots and isinstance(inputs, str):
        args[text_slots[0]] = inputs
    return args, params


def _suffix_of(content_type: str) -> str:
    from .files import MIME_SUFFIX

    return MIME_SUFFIX.get((content_type or "").split(";")[0].strip().lower(), "")


def hf_answer(task: str, result, inputs: dict, files: RunFiles) -> tuple[Any, str]:
    """``(content, media type)``: JSON-able data, or a file's bytes for tasks that make one."""
    output = TASK_TYPES[task].output
    data = result.data or {}
    if output in FILE_MODALITIES and result.files and task not in ("object-detection", "image-segmentation",
                                                                    "depth-estimation"):
        path = Path(result.files[0])
        if task == "audio-to-audio":
            import base64

            return [{"label": "audio", "content-type": media_type(path),
                     "blob": base64.b64encode(path.read_bytes()).decode()}], "application/json"
        return path.read_bytes(), media_type(path)
    if task in LABELLED or task == "zero-shot-classification":
        labels = [{"label": x["label"], "score": x.get("score")} for x in data.get("labels", []) if "label" in x]
        return labels or [{"label": result.text, "score": None}], "application/json"
    if task == "token-classification":
        return [{"entity_group": e.get("label"), "word": e.get("text"), "start": e.get("start"),
                 "end": e.get("end"), "score": e.get("score", 1.0)} for e in data.get("entities", [])], \
            "application/json"
    if task == "question-answering":
        return {"answer": result.text, "score": data.get("score"), "start": data.get("start"),
                "end": data.get("end")}, "application/json"
    if task == "automatic-speech-recognition":
        return {"text": result.text}, "application/json"
    if task in GENERATED:
        return [{GENERATED[task]: result.text}], "application/json"
    if task == "fill-mask":
        return data.get("candidates") or [{"sequence": result.text}], "application/json"
    if task == "sentence-similarity":
        score = data.get("similarity", data.get("cosine"))
        return [score if score is not None else result.text], "application/json"
    if task in ("visual-question-answering", "document-question-answering"):
        return data.get("answers") or [{"answer": result.text, "score": data.get("score")}], "application/json"
    if task == "object-detection":
        return data.get("detections", []), "application/json"
    if task == "image-segmentation":
        return data.get("segments", []), "application/json"
    return native(result, files), "application/json"


def native(result, files: RunFiles) -> dict:
    """hgpt's own shape of an expert's result: what ``ExpertResult`` holds, files as URLs."""
    return {"text": result.text, "data": result.data, "files": [files.url(f) for f in result.files]}


def describe_arg(key: str, modality: str) -> str:
    if modality in FILE_MODALITIES:
        return (f"the {modality} ({key}): a data: URL (data:{'image/png' if modality == 'image' else 'audio/wav'}"
                ";base64,…), plain base64, or the hgpt://runs/… URI of an earlier result")
    return {"labels": "the labels to choose from, comma-separated",
            "context": "the passage the answer is in", "text2": "the second text"}.get(key, f"the {key}")


def json_schema(task: str, models: list[str]) -> dict:
    """A JSON schema for a task type's arguments (the MCP tool's input schema)."""
    task_type = TASK_TYPES[task]
    props: dict = {key: {"type": "string", "description": describe_arg(key, modality)}
                   for key, modality in task_type.args.items()}
    if models:
        props["model"] = {"type": "string", "enum": models,
                          "description": "which installed model runs it (default: the best installed one)"}
    return {"type": "object", "properties": props, "required": list(task_type.required_args()),
            "additionalProperties": False}


SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
