"""HuggingGPT's endpoints, in the shapes of the paper's reference server (awesome_chat.py).

* ``POST /hugginggpt`` — ``{"messages": [...]}`` in, ``{"message": answer}`` out: the whole
  pipeline. Files in the answer are server-relative ``/v1/files/…`` paths, which the
  reference web client turns into links and players by prefixing the server's address.
* ``POST /tasks`` — the plan only: ``[{"task", "id", "dep", "args"}, …]``; nothing runs.
* ``POST /results`` — the per-task results, keyed by task id:
  ``{"0": {"task": {…}, "inference result": {…}, "choose model result": {"id", "reason"}}}``;
  an inference result has ``generated text`` and ``generated image``/``audio``/``video``
  as the reference's do, plus the expert's structured ``data``; a failed task has
  ``error``. (The engine also writes its answer, which this endpoint leaves out.)

Messages may carry files as OpenAI content parts with data URLs; the reference's
``api_key``/``api_type``/``api_endpoint`` fields are accepted and ignored.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from engine import CancelToken

from .api_openai import collect
from .responses import error, run_error
from .runs import watch_disconnect
from .schemas import HuggingGPTAnswer, HuggingGPTRequest, PlannedTask, TaskResult, error_responses
from .service import Service, parse_messages

GENERATED = {"image": "generated image", "audio": "generated audio", "video": "generated video"}


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["HuggingGPT"])

    async def _run(body: HuggingGPTRequest, request: Request):
        bridge, files, cancel = service.start(body.messages, str(request.base_url))
        return await collect(bridge, request, cancel), files

    @api.post("/hugginggpt", response_model=HuggingGPTAnswer,
              responses=error_responses(400, 401, 403, 413, 422, 500, 503))
    async def hugginggpt(body: HuggingGPTRequest, request: Request):
        """The whole pipeline; the answer as ``{"message": …}``."""
        outcome, files = await _run(body, request)
        if outcome.status != "done":
            return run_error(outcome)
        return JSONResponse({"message": outcome.public_text(files, relative=True)},
                            headers={"X-Hgpt-Run": outcome.run_id})

    @api.post("/tasks", response_model=list[PlannedTask],
              responses=error_responses(400, 401, 403, 413, 422, 503))
    async def tasks(body: HuggingGPTRequest, request: Request):
        """The plan the request would get (stage 1 alone; nothing runs, nothing is kept)."""
        files = service.files(str(request.base_url))
        uploads = service.uploads()
        try:
            parsed = parse_messages(body.messages, uploads, files)
            if not parsed.request:
                from engine import errors

                raise errors.UserInputError("the request is empty; say what you want done")
            cancel = CancelToken()
            bridge = service.plan(parsed, uploads, cancel)
        except BaseException:
            uploads.close()
            raise
        plan = None
        watcher = asyncio.create_task(watch_disconnect(request, cancel))  # a client that leaves stops planning
        try:
            async for result in bridge:
                plan = result[0]
        finally:
            watcher.cancel()
        if plan is None:  # the client left while the request waited for a slot
            return error(409, "the request was cancelled before it was planned", "cancelled")
        return plan.to_list()

    @api.post("/results", response_model=dict[str, TaskResult],
              responses=error_responses(400, 401, 403, 413, 422, 500, 503))
    async def results(body: HuggingGPTRequest, request: Request):
        """Run the request; each task's result, keyed by task id."""
        outcome, files = await _run(body, request)
        if outcome.status != "done":
            return run_error(outcome)
        out = {}
        inputs = {name: files.url(f"{outcome.record.get('run_dir', '')}/inputs/{name}")[len(files.base):]
                  for name in outcome.record.get("attachments", [])}
        for result in outcome.results(files, relative=True):
            args = {k: inputs.get(v, v) if isinstance(v, str) else v for k, v in result["args"].items()}
            task = {"task": result["task"], "id": result["id"], "dep": result["dep"], "args": args}
            if result["status"] == "done":
                inference = {"generated text": result["text"], "data": result["data"]}
                for url in result["files"]:
                    kind = _kind(url)
                    if kind:
                        inference.setdefault(GENERATED[kind], url)
            else:
                inference = {"error": result["error"] or result["status"]}
            choice = {"id": result["model_id"], "reason": result["reason"]} if result["model_id"] else ""
            out[str(result["id"])] = {"task": task, "inference result": inference, "choose model result": choice}
        return JSONResponse(out, headers={"X-Hgpt-Run": outcome.run_id})

    return api


def _kind(url: str) -> str:
    from pathlib import Path

    from engine import errors, modality_of

    try:
        return modality_of(Path(url))
    except errors.AttachmentError:
        return ""
