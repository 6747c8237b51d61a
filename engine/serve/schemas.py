"""Request and response bodies, as pydantic models: they are the server's OpenAPI document.

Requests accept the fields other clients send and hgpt does not use (``temperature``,
``api_key`` in HuggingGPT's bodies…): they are ignored, never logged. Responses may
carry more than the models declare (``extra="allow"``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGES = 200


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- chat messages (OpenAI's content parts; HuggingGPT's plain strings) --------------------------------
class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ImageUrl(BaseModel):
    url: str = Field(description="a data: URL (data:image/png;base64,…) or an earlier result's /v1/files/… URL")
    detail: Optional[str] = None


class ImagePart(BaseModel):
    type: Literal["image_url"]
    image_url: ImageUrl


class InputAudio(BaseModel):
    data: str = Field(description="the audio file, base64")
    format: str = Field("wav", description="wav, mp3, flac, ogg, m4a")


class AudioPart(BaseModel):
    type: Literal["input_audio"]
    input_audio: InputAudio


class FileData(BaseModel):
    file_data: Optional[str] = Field(None, description="the file as a data: URL or base64")
    filename: Optional[str] = None
    file_id: Optional[str] = None


class FilePart(BaseModel):
    type: Literal["file"]
    file: FileData


ContentPart = Annotated[Union[TextPart, ImagePart, AudioPart, FilePart], Field(discriminator="type")]


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[ContentPart], None] = None
    name: Optional[str] = None


class ChatCompletionRequest(_Open):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"model": "hgpt", "messages": [{"role": "user", "content": "What can you do?"}]},
        {"model": "hgpt", "stream": True, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What animal is in this picture? Then say it out loud."},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,…"}}]}]}]})

    model: str = Field("hgpt", description="any name: hgpt serves one pipeline (GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False


class HuggingGPTRequest(_Open):
    """The reference server's body: ``messages``; ``api_key``/``api_type``/``api_endpoint``
    named its OpenAI account and are ignored here (the controller is local)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [
        {"messages": [{"role": "user", "content": "Say hello in French."}]}]})

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: Optional[str] = None
    api_key: Optional[str] = None
    api_type: Optional[str] = None
    api_endpoint: Optional[str] = None


# -- responses ----------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    message: str
    type: str
    code: Optional[str] = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class Model(_Open):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(_Open):
    object: Literal["list"] = "list"
    data: list[Model]


class AssistantMessage(_Open):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(_Open):
    index: int
    message: AssistantMessage
    finish_reason: str


class ChatCompletion(_Open):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    hgpt: dict[str, Any] = Field(description="the run: id, plan, per-task results, file URLs, the engine's timings")


class HuggingGPTAnswer(_Open):
    message: str


class PlannedTask(_Open):
    task: str
    id: int
    dep: list[int]
    args: dict[str, Any]


class TaskResult(_Open):
    task: dict[str, Any]
    inference_result: dict[str, Any] = Field(alias="inference result")
    choose_model_result: Any = Field(alias="choose model result")


class ExpertInfo(_Open):
    id: str
    tasks: list[str]
    runtime: str
    loaded: bool
    available: bool


class ExpertStatus(_Open):
    loaded: bool


class Health(_Open):
    status: str
    version: str
    queue: dict[str, int]
    offline: bool


def error_responses(*codes: int) -> dict:
    """OpenAPI entries for the error statuses a route may answer."""
    words = {400: "the request is not usable (the message says why)", 401: "a wrong or missing API key",
             403: "a browser page on another origin, or a Host this server does not answer to",
             404: "no such model, task or file", 413: "the body or a file is too large",
             422: "the body does not match the schema, or the model failed on the input",
             500: "the run failed (the message says where)",
             503: "every slot and queue place is taken; retry after Retry-After seconds"}
    out = {}
    for code in codes:
        out[code] = {"model": ErrorResponse, "description": words[code]}
        if code == 503:
            out[code]["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                    "description": "seconds to wait before retrying"}}
    return out
