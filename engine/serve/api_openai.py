"""The OpenAI-compatible API: ``/v1/models``, ``/v1/chat/completions``, ``/v1/files/…``.

One model, ``hgpt``: the whole pipeline. A chat completion runs the last user
message as a request (images and audio as ``image_url``/``input_audio``/``file``
content parts with data URLs), the earlier messages as its chat log. The reply's
``content`` is the engine's answer — the direct answer, then how it was done, with
every file it wrote as a ``/v1/files/<run>/<name>`` URL — and an extra ``hgpt`` field
(clients ignore it) holds the run: id, plan, per-task results, files, the engine's
own timings.

With ``stream: true`` the reply is server-sent events in OpenAI's chunk format: the
answer's tokens as ``delta.content`` as the controller writes them, then the
workflow lines; plan, model choices and task results arrive as chunks with an empty
delta and the event in ``hgpt.event``. ``data: [DONE]`` ends it. A client that
disconnects cancels its run (recorded as cancelled).
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from engine import CancelToken, events as ev

from .responses import ApiError, run_error
from .runs import Outcome, public_event, watch_disconnect
from .schemas import ChatCompletion, ChatCompletionRequest, ModelList, error_responses
from .service import Service

MODEL_ID = "hgpt"
STREAM_EVENT = {"type": "object", "required": ["data"], "description": "one server-sent event: data is a "
                "chat.completion.chunk as JSON (or an error object), and the last one is [DONE]",
                "properties": {"data": {"type": "string"}}}
STARTED = int(time.time())


def router(service: Service) -> APIRouter:
    api = APIRouter(tags=["OpenAI-compatible"])

    @api.get("/v1/models", response_model=ModelList, responses=error_responses(401, 403))
    async def models() -> dict:
        """The one model hgpt serves: the whole pipeline (plan, select, execute, answer)."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": STARTED,
                                            "owned_by": "hgpt"}]}

    @api.get("/v1/models/{model}", responses=error_responses(401, 403, 404))
    async def model(model: str) -> dict:
        if model != MODEL_ID:
            raise ApiError(404, f"no model {model!r}; this server has one, {MODEL_ID!r}", "model_not_found")
        return {"id": MODEL_ID, "object": "model", "created": STARTED, "owned_by": "hgpt"}

    @api.post("/v1/chat/completions", response_model=ChatCompletion,
              responses={**error_responses(400, 401, 403, 404, 413, 422, 500, 503),
                         200: {"content": {"text/event-stream": {"schema": STREAM_EVENT}},
                               "description": "the answer (JSON), or server-sent chunks with stream: true"}})
    async def chat_completions(body: ChatCompletionRequest, request: Request):
        """Run the last user message through the pipeline; the answer as a chat completion."""
        bridge, files, cancel = service.start(body.messages, str(request.base_url))
        created = int(time.time())
        if body.stream:
            return StreamingResponse(_chunks(bridge, files, created), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        outcome = await collect(bridge, request, cancel)
        return completion(outcome, files, created)

    @api.get("/v1/files/{run_id}/{name:path}", responses=error_responses(400, 401, 403, 404),
             response_class=FileResponse)
    async def run_file(run_id: str, name: str):
        """A file a run wrote (or was given): only from that run's folder, only media files."""
        path = service.files().resolve(run_id, name)
        from .files import media_type

        return FileResponse(path, media_type=media_type(path), headers={"X-Content-Type-Options": "nosniff"})

    return api


async def collect(bridge, request: Request, cancel: CancelToken) -> Outcome:
    """Every event of a run into an ``Outcome``; the run is cancelled if the client leaves."""
    outcome = Outcome()
    watcher = asyncio.create_task(watch_disconnect(request, cancel))
    try:
        async for event in bridge:
            outcome.apply(event)
    finally:
        watcher.cancel()
    outcome.queued = bridge.ticket.waited
    return outcome


def completion(outcome: Outcome, files, created: int) -> JSONResponse:
    if outcome.status != "done":
        return run_error(outcome)
    return JSONResponse({
        "id": f"chatcmpl-{outcome.run_id}", "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": outcome.public_text(files)},
                     "finish_reason": "stop", "logprobs": None}],
        "hgpt": outcome.summary(files)}, headers={"X-Hgpt-Run": outcome.run_id})


def _chunk(run_id: str, created: int, delta: dict, finish=None, hgpt: dict | None = None) -> str:
    data = {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if hgpt is not None:
        data["hgpt"] = hgpt
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _chunks(bridge, files, created: int):
    outcome = Outcome()
    run_id = ""
    try:
        async for event in bridge:
            outcome.apply(event)
            run_id = outcome.run_id or run_id
            if isinstance(event, ev.RunStarted):
                yield _chunk(run_id, created, {"role": "assistant", "content": ""},
                             hgpt={"event": public_event(event, files)})
            elif isinstance(event, ev.Token):
                yield _chunk(run_id, created, {"content": event.text})
            elif isinstance(event, ev.AnswerDone):
                outcome.queued = bridge.ticket.waited
                details = outcome.public_text(files)
                direct = outcome.answer.get("direct", "")
                tail = details[len(direct):] if details.startswith(direct) else ""
                if tail:
                    yield _chunk(run_id, created, {"content": tail})
                yield _chunk(run_id, created, {}, finish="stop", hgpt=outcome.summary(files))
            elif isinstance(event, ev.RunFailed):
                message = f"the run failed while {ev.stage_words(event.stage).doing}: {event.error}"
                yield "data: " + json.dumps({"error": {"message": message, "type": "run_failed",
                                                       "code": None, "run_id": run_id}}) + "\n\n"
            elif isinstance(event, ev.RunCancelled):
                yield _chunk(run_id, created, {}, finish="stop", hgpt={"event": public_event(event, files)})
            else:
                yield _chunk(run_id, created, {}, hgpt={"event": public_event(event, files)})
        yield "data: [DONE]\n\n"
    finally:
        if not bridge.finished:
            bridge.cancel.cancel()
