"""Remote experts: a model run by an inference endpoint, through the Hugging Face task protocol.

``RemoteEndpoint`` is one server that speaks the Hugging Face inference task protocol:
Hugging Face Inference Providers (the default, ``https://router.huggingface.co/hf-inference``),
a dedicated Inference Endpoint, or any server answering ``POST {base}/models/{id}`` —
another hgpt's ``hgpt serve`` among them (it also answers ``/models/{id}/pipeline/{task}``,
which is used when ``GET {base}/models`` shows the server is an hgpt, and lists its
models, which become candidates). A base URL containing ``{model}`` is filled in
instead; a URL without a path other than ``/`` gets ``/models/{model}``.

``RemoteExpert`` runs one model there with ``huggingface_hub.InferenceClient`` (base URL
and token), one client call per task type (``CALLS``), and turns the answer into an
``ExpertResult`` (files written through ``ctx.output_path``). Each call has a timeout;
a timeout, a dropped connection, HTTP 429 or a 5xx is retried with exponential backoff
(``RETRIES`` tries); a 4xx is not. When the endpoint stays down the error is one line
naming it and what to do — and in hybrid mode the expert's ``fallback`` (the best
installed local expert for the task) runs instead, the result saying so. An answer of
the wrong shape for the task is one line too. The token is sent as a bearer header
and never logged or shown.
"""

from __future__ import annotations

import io
import json
import re
import logging
import time
import urllib.parse
from typing import Any, Callable

from ..errors import ExpertError, OfflineError
from .base import Expert, ExpertContext, ExpertResult

log = logging.getLogger(__name__)
HF_PROVIDERS = "https://router.huggingface.co/hf-inference"
NO_TOKEN = "none"  # sent to a non-Hugging-Face endpoint when no token is set (never the Hub login)
RETRIES = 3
BACKOFF = 0.5  # seconds before the second try; doubled for each further one


class RemoteEndpointError(ExpertError, ConnectionError):
    """The inference endpoint is down, does not answer in time, or keeps failing."""


class UnreadableAnswer(ExpertError):
    """The endpoint answered, but not in the shape the task's answer has."""


class RemoteEndpoint:
    """An inference server: where each model is, the client for it, what it lists."""

    def __init__(self, url: str = "", token: str = "", *, timeout: float = 60.0, retries: int = RETRIES,
                 backoff: float = BACKOFF):
        self.url = (url or HF_PROVIDERS).strip().rstrip("/")
        self.token = token or ""
        self.timeout, self.retries, self.backoff = float(timeout), max(1, int(retries)), float(backoff)
        self.host = urllib.parse.urlsplit(self.url).hostname or ""
        self._listing: list[dict] | None = None
        self._listed = False

    def __repr__(self) -> str:  # the token is never shown
        return f"<RemoteEndpoint {self.url}>"

    @property
    def name(self) -> str:
        split = urllib.parse.urlsplit(self.url)
        return f"{split.scheme}://{split.netloc}"

    def model_url(self, model_id: str, task: str | None = None) -> str:
        if "{model}" in self.url:
            return self.url.replace("{model}", model_id)
        path = urllib.parse.urlsplit(self.url).path
        if path not in ("", "/") and "/models" not in path and self.url != HF_PROVIDERS \
                and not path.endswith("/hf-inference"):
            return self.url  # a dedicated endpoint: one model at its own URL
        if task and self.is_hgpt():
            return f"{self.url}/models/{model_id}/pipeline/{task}"
        return f"{self.url}/models/{model_id}"

    @property
    def is_huggingface(self) -> bool:
        return self.host == "huggingface.co" or self.host.endswith((".huggingface.co", ".huggingface.cloud",
                                                                     ".hf.space"))

    def client(self, model_id: str, task: str | None = None):
        """huggingface_hub's client for one model. Without a token of its own, a Hugging Face
        endpoint gets the user's Hub login (huggingface_hub finds it) and any other server a
        placeholder, so the Hub token never goes to a third party."""
        from huggingface_hub import InferenceClient

        token = self.token or (None if self.is_huggingface else NO_TOKEN)
        return InferenceClient(model=self.model_url(model_id, task), token=token, timeout=self.timeout)

    # -- what the server lists (another hgpt does) ------------------------------------------------
    def models(self) -> list[dict]:
        """The models the server lists (``GET {base}/models``: an hgpt server), or []."""
        if not self._listed:
            self._listing = self._list()
            self._listed = True
        return list(self._listing or [])

    def is_hgpt(self) -> bool:
        return bool(self.models())

    def _list(self) -> list[dict] | None:
        import urllib.request

        split = urllib.parse.urlsplit(self.url)
        if "{model}" in self.url or split.path not in ("", "/"):
            return None
        request = urllib.request.Request(f"{self.url}/models", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 5.0)) as response:
                data = json.loads(response.read(2_000_000))
        except (OSError, ValueError) as exc:
            log.info("%s lists no models (%s)", self.url, exc)
            return None
        if not isinstance(data, list):
            return None
        return [m for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)
                and isinstance(m.get("tasks"), list) and m.get("available", True)]

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def for_task(self, task: str) -> list[str]:
        """Model ids the server lists for ``task``."""
        return [m["id"] for m in self.models() if task in m["tasks"]]

    # -- calling, retried ----------------------------------------------------------------------------
    def call(self, model_id: str, task: str, fn: Callable[[Any], Any], cancel=None):
        """``fn(client)``, retried on timeouts, dropped connections, 429 and 5xx."""
        client = self.client(model_id, task)
        last: BaseException | None = None
        for attempt in range(1, self.retries + 1):
            if cancel is not None:
                cancel.check()
            try:
                return fn(client)
            except Exception as exc:  # noqa: BLE001 - sorted below
                kind = _failure(exc)
                if kind == "final" and _status(exc) is None:
                    raise UnreadableAnswer(_short(exc)) from exc  # it answered, in another shape
                if kind == "final":
                    raise ExpertError(self._refused(exc, model_id, task)) from exc
                last = exc
                if attempt < self.retries:
                    pause = self.backoff * 2 ** (attempt - 1)
                    log.warning("%s: %s on %s (%s); trying again in %.1f s", self.name, task, model_id,
                                _short(exc), pause)
                    time.sleep(pause)
        raise RemoteEndpointError(
            f"the inference endpoint {self.name} is down or not answering ({_short(last)}, {self.retries} tries) "
            f"for {model_id}; start it, check the endpoint URL in Settings, or set the inference mode to local")

    def _refused(self, exc: BaseException, model_id: str, task: str) -> str:
        status = _status(exc)
        if status in (401, 403):
            return (f"the inference endpoint {self.name} refused {model_id} (HTTP {status}); check the token "
                    "in Settings")
        if status == 404:
            return f"the inference endpoint {self.name} has no model {model_id} for {task} (HTTP 404)"
        return f"the inference endpoint {self.name} could not run {task} with {model_id} ({_short(exc)})"


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _failure(exc: BaseException) -> str:
    """"retry" (timeout, connection, 429, 5xx) or "final"."""
    status = _status(exc)
    if status is not None:
        return "retry" if status == 429 or status >= 500 else "final"
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"InferenceTimeoutError", "Timeout", "ConnectionError", "TimeoutError", "ChunkedEncodingError",
                "ReadTimeout", "ConnectTimeout", "RemoteDisconnected", "ProtocolError"}:
        return "retry"
    return "final"


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    status = _status(exc)
    if status is not None:
        return f"HTTP {status}"
    text = str(exc).strip().splitlines()
    text = text[0] if text else type(exc).__name__
    text = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>?", r"\1", text)
    if "Connection refused" in text or "Errno 111" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text[:120]


# -- one call per task type ---------------------------------------------------------------------------
def _labels(items) -> ExpertResult:
    labels = [{"label": str(x.label), "score": round(float(x.score), 4)} for x in items]
    if not labels:
        raise ValueError("no labels")
    return ExpertResult(text=labels[0]["label"], data={"labels": labels})


def _image_file(image, ctx: ExpertContext, stem: str) -> ExpertResult:
    from PIL import Image

    if isinstance(image, (bytes, bytearray)):
        image = Image.open(io.BytesIO(image))
    if not hasattr(image, "save"):
        raise TypeError(f"expected an image, got {type(image).__name__}")
    path = ctx.output_path(stem, ".png")
    image.save(path)
    return ExpertResult(text=f"an image ({image.size[0]}x{image.size[1]})", files=[path])


def _audio_file(data, ctx: ExpertContext, text: str) -> ExpertResult:
    if not isinstance(data, (bytes, bytearray)) or len(data) < 16:
        raise TypeError("expected audio bytes")
    suffix = (".wav" if data[:4] == b"RIFF" else ".flac" if data[:4] == b"fLaC" else
              ".ogg" if data[:4] == b"OggS" else ".mp3" if data[:3] == b"ID3" or data[:2] == b"\xff\xfb" else None)
    if suffix is None:
        raise TypeError("expected audio (WAV, FLAC, Ogg or MP3), got other bytes")
    path = ctx.output_path("speech", suffix)
    path.write_bytes(data)
    return ExpertResult(text=f"read aloud: {text}", files=[path])


def _detections(items, ctx) -> ExpertResult:
    found = [{"label": str(x.label), "score": round(float(x.score), 4),
              "box": {k: int(getattr(x.box, k)) for k in ("xmin", "ymin", "xmax", "ymax")}} for x in items]
    names = ", ".join(d["label"] for d in found) or "nothing"
    return ExpertResult(text=f"found {names}", data={"detections": found})


def _segments(items, ctx) -> ExpertResult:
    segments = []
    for x in items:
        segment = {"label": str(x.label), "score": None if x.score is None else round(float(x.score), 4)}
        if getattr(x, "mask", None) is not None and hasattr(x.mask, "save"):
            path = ctx.output_path(f"mask-{segment['label']}", ".png")
            x.mask.save(path)
            segment["mask"] = str(path)
        segments.append(segment)
    return ExpertResult(text="segments: " + (", ".join(s["label"] for s in segments) or "none"),
                        data={"segments": segments})


def _answers(items) -> ExpertResult:
    items = items if isinstance(items, list) else [items]
    answers = [{"answer": str(x.answer), "score": None if x.score is None else round(float(x.score), 4)}
               for x in items]
    if not answers:
        raise ValueError("no answer")
    return ExpertResult(text=answers[0]["answer"], data={"answers": answers})


def _text_of(value, attribute: str) -> ExpertResult:
    if isinstance(value, list):
        value = value[0]
    text = getattr(value, attribute, value if isinstance(value, str) else None)
    if not isinstance(text, str):
        raise TypeError(f"expected {attribute}, got {type(value).__name__}")
    return ExpertResult(text=text)


def _labels_arg(args: dict) -> list[str]:
    return [x.strip() for x in str(args.get("labels") or "").split(",") if x.strip()] or ["positive", "negative"]


# task -> (call on the client, read the answer, what the answer should be)
CALLS: dict[str, tuple[Callable, Callable, str]] = {
    "image-classification": (lambda c, a: c.image_classification(a["image"]), lambda r, a, x: _labels(r), "labels"),
    "audio-classification": (lambda c, a: c.audio_classification(a["audio"]), lambda r, a, x: _labels(r), "labels"),
    "text-classification": (lambda c, a: c.text_classification(a["text"]), lambda r, a, x: _labels(r), "labels"),
    "zero-shot-classification": (lambda c, a: c.zero_shot_classification(a["text"], candidate_labels=_labels_arg(a)),
                                 lambda r, a, x: _labels(r), "labels"),
    "token-classification": (lambda c, a: c.token_classification(a["text"]), lambda r, a, x: ExpertResult(
        text=", ".join(f"{e.word} ({e.entity_group})" for e in r) or "no entities",
        data={"entities": [{"text": e.word, "label": e.entity_group, "start": e.start, "end": e.end,
                            "score": e.score} for e in r]}), "entities"),
    "object-detection": (lambda c, a: c.object_detection(a["image"]), lambda r, a, x: _detections(r, x), "boxes"),
    "image-segmentation": (lambda c, a: c.image_segmentation(a["image"]), lambda r, a, x: _segments(r, x),
                           "segments"),
    "image-to-text": (lambda c, a: c.image_to_text(a["image"]), lambda r, a, x: _text_of(r, "generated_text"),
                      "a caption"),
    "image-to-image": (lambda c, a: c.image_to_image(a["image"]), lambda r, a, x: _image_file(r, x, "image"),
                       "an image"),
    "text-to-image": (lambda c, a: c.text_to_image(a["text"]), lambda r, a, x: _image_file(r, x, "image"),
                      "an image"),
    "text-to-speech": (lambda c, a: c.text_to_speech(a["text"]), lambda r, a, x: _audio_file(r, x, a["text"]),
                       "audio"),
    "automatic-speech-recognition": (lambda c, a: c.automatic_speech_recognition(a["audio"]),
                                     lambda r, a, x: _text_of(r, "text"), "a transcript"),
    "summarization": (lambda c, a: c.summarization(a["text"]), lambda r, a, x: _text_of(r, "summary_text"),
                      "a summary"),
    "translation": (lambda c, a: c.translation(a["text"]), lambda r, a, x: _text_of(r, "translation_text"),
                    "a translation"),
    "text-generation": (lambda c, a: c.text_generation(a["text"], max_new_tokens=200),
                        lambda r, a, x: _text_of(r, "generated_text"), "text"),
    "question-answering": (lambda c, a: c.question_answering(question=a["text"], context=a["context"]),
                           lambda r, a, x: _answers(r), "an answer"),
    "visual-question-answering": (lambda c, a: c.visual_question_answering(a["image"], a["text"]),
                                  lambda r, a, x: _answers(r), "an answer"),
    "document-question-answering": (lambda c, a: c.document_question_answering(a["image"], a["text"]),
                                    lambda r, a, x: _answers(r), "an answer"),
    "fill-mask": (lambda c, a: c.fill_mask(a["text"]), lambda r, a, x: ExpertResult(
        text=r[0].sequence, data={"candidates": [{"sequence": m.sequence, "score": m.score} for m in r]}),
        "filled sentences"),
    "sentence-similarity": (lambda c, a: c.sentence_similarity(a["text"], other_sentences=[a["text2"]]),
                            lambda r, a, x: ExpertResult(text=f"{float(r[0]):.3f}",
                                                         data={"similarity": float(r[0])}), "a score"),
}


class RemoteExpert(Expert):
    """One model run at an inference endpoint (see the module docstring)."""

    runtime = "remote"

    def __init__(self, model_id: str, tasks, endpoint: RemoteEndpoint, *, fallback: Expert | None = None,
                 card: dict | None = None, offline: bool = False):
        super().__init__()
        card = card or {}
        self.model_id = model_id
        self.tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
        self.endpoint, self.fallback, self.offline = endpoint, fallback, offline
        self.description = card.get("description") or f"{model_id} at {endpoint.name}"
        self.licence, self.downloads = card.get("licence") or "", int(card.get("downloads") or 0)
        self.source = f"remote:{endpoint.name}"

    def missing(self) -> str | None:
        unknown = [t for t in self.tasks if t not in CALLS]
        if unknown:
            return f"{', '.join(unknown)} cannot be run remotely (the inference task protocol has no call for it)"
        if self.offline:
            return (f"offline mode is on, so the inference endpoint {self.endpoint.name} is not used; turn offline "
                    "mode off in Settings (or HGPT_OFFLINE=0), or set the inference mode to local")
        return None

    def check_files(self) -> None:  # nothing on disk to check
        pass

    def footprint_mb(self) -> float:
        return 0.0

    def run(self, task: str, args: dict[str, Any], ctx: ExpertContext) -> ExpertResult:
        why = self.missing()
        if why:
            raise OfflineError(why) if self.offline else ExpertError(why)
        call, read, expected = CALLS[task]
        started = time.perf_counter()
        try:
            answer = self.endpoint.call(self.model_id, task, lambda client: call(client, args), ctx.cancel)
        except RemoteEndpointError as exc:
            if self.fallback is None:
                raise
            result = self.fallback(task, args, ctx)
            result.data["remote"] = {"endpoint": self.endpoint.name, "fallback": self.fallback.model_id,
                                     "why": str(exc)}
            return result
        except UnreadableAnswer as exc:
            raise ExpertError(f"the inference endpoint {self.endpoint.name} answered {task} with something that "
                              f"is not {expected} ({exc}); does {self.model_id} do {task}?") from None
        try:
            result = read(answer, args, ctx)
        except Exception as exc:  # noqa: BLE001 - the server answered something else
            raise ExpertError(f"the inference endpoint {self.endpoint.name} answered {task} with {model_words(answer)}, "
                              f"not {expected}; does {self.model_id} do {task}?") from exc
        result.data["remote"] = {"endpoint": self.endpoint.name, "seconds": round(time.perf_counter() - started, 3)}
        return result


def model_words(answer: Any) -> str:
    """A short description of an unexpected answer."""
    if isinstance(answer, (bytes, bytearray)):
        return f"{len(answer):,} bytes of something else"
    if isinstance(answer, list):
        return f"a list of {len(answer)} {type(answer[0]).__name__ if answer else 'items'}"
    return f"a {type(answer).__name__}"
