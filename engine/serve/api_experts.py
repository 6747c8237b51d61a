"""The installed experts over the Hugging Face inference task protocol.

``POST /models/{model_id}`` and ``POST /models/{model_id}/pipeline/{task}`` take what
the Hugging Face Inference API takes — an image or audio file as the raw body, or
JSON ``{"inputs": …, "parameters": {…}}`` (files in JSON as base64 or data URLs) —
and answer in its shapes, so ``huggingface_hub.InferenceClient(model="http://…/models/ID")``
works against it, and another hgpt can use this one's experts remotely.
``POST /pipeline/{task}`` runs the best installed model for a task. ``GET /models``
lists the installed experts, ``GET /status/{model_id}`` says whether one is loaded
(the HuggingGPT reference's model-server check). ``?format=hgpt`` answers in hgpt's
own shape instead: ``{"model_id", "task", "text", "data", "files": [URLs]}``.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from engine import CancelToken

from .experts import NotFound, hf_answer, hf_args, native, new_call_dir
from .runs import watch_disconnect
from .schemas import ExpertInfo, ExpertStatus, error_responses
from .service import Service

BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "inputs": {"description": "text, a file as base64 or a data: URL, or an object of named inputs"},
        "parameters": {"type": "object"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
ANSWERS = {**error_responses(400, 401, 403, 404, 413, 422, 503),
           200: {"description": "the result in the Hugging Face Inference API's shape for the task: JSON, "
                                "or the image/audio bytes for tasks that make a file",
                 "content": {"application/json": {"schema": {}},
                             "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["Experts (Hugging Face inference protocol)"])
    calls = service.experts

    @api.get("/models", response_model=list[ExpertInfo], responses=error_responses(401, 403, 503))
    async def models():
        """The installed experts: id, tasks, runtime, loaded now, can run here."""
        return await _blocking(service, calls.experts)

    @api.get("/status/{model_id:path}", response_model=ExpertStatus, responses=error_responses(401, 403, 404, 503))
    async def status(model_id: str):
        def look():
            registry = service.engine.registry
            if model_id not in registry:
                raise NotFound(f"no installed model {model_id!r}; GET /models lists them")
            return {"loaded": registry.get(model_id).loaded}

        return await _blocking(service, look)

    @api.post("/models/{model_id:path}/pipeline/{task}", openapi_extra=BODY, responses=ANSWERS)
    async def model_task(model_id: str, task: str, request: Request, format: str = ""):
        """Run model ``model_id`` on ``task``."""
        return await _call(service, request, task, model_id, format)

    @api.post("/models/{model_id:path}", openapi_extra=BODY, responses=ANSWERS)
    async def model(model_id: str, request: Request, format: str = ""):
        """Run model ``model_id`` on its task (the one its inputs name, when it has several)."""
        return await _call(service, request, None, model_id, format)

    @api.post("/pipeline/{task}", openapi_extra=BODY, responses=ANSWERS)
    async def pipeline(task: str, request: Request, format: str = ""):
        """Run the best installed model for ``task``."""
        return await _call(service, request, task, None, format)

    return api


async def _blocking(service: Service, work):
    cancel = CancelToken()
    async for value in service.call_expert(work, cancel):
        return value


async def _call(service: Service, request: Request, task: str | None, model_id: str | None, fmt: str):
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    files = service.files(str(request.base_url))
    calls = service.experts
    cancel = CancelToken()

    def work():
        payload = None
        if "json" in content_type.lower():
            try:
                payload = json.loads(body or b"null")
            except (ValueError, UnicodeDecodeError):
                payload = None
        if task is not None:
            expert = calls.choose(task, model_id)
            chosen = task
        else:
            chosen = calls.default_task(_expert(service, model_id), payload)
            expert = calls.choose(chosen, model_id)
        call_id, folder = new_call_dir(service.runs_dir)
        uploads = service.uploads(folder / "inputs")
        args, _params = hf_args(chosen, body, content_type, uploads)
        if chosen == "sentence-similarity" and isinstance(args.get("text2"), list):
            scores = []
            for other in args["text2"]:
                result = calls.call(expert, chosen, {**args, "text2": str(other)}, folder, cancel)
                scores.append((result.data or {}).get("similarity", (result.data or {}).get("cosine")))
            return expert.model_id, chosen, None, scores, call_id
        result = calls.call(expert, chosen, args, folder, cancel)
        return expert.model_id, chosen, result, None, call_id

    watcher = asyncio.create_task(watch_disconnect(request, cancel))
    try:
        async for value in service.call_expert(work, cancel):
            model, chosen, result, scores, call_id = value
    finally:
        watcher.cancel()
    headers = {"X-Hgpt-Model": model, "X-Hgpt-Task": chosen, "X-Hgpt-Call": call_id}
    if scores is not None:
        return JSONResponse(scores, headers=headers)
    if fmt == "hgpt":
        return JSONResponse({"model_id": model, "task": chosen, **native(result, files)}, headers=headers)
    content, media = hf_answer(chosen, result, {}, files)
    if isinstance(content, bytes):
        return Response(content, media_type=media, headers=headers)
    return JSONResponse(content, headers=headers)


def _expert(service: Service, model_id: str):
    registry = service.engine.registry
    if model_id not in registry:
        raise NotFound(f"no installed model {model_id!r}; GET /models lists them")
    return registry.get(model_id)
