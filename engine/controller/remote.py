"""A controller behind an OpenAI-compatible HTTP server: the path to a bigger model.

``RemoteController`` speaks ``POST {base}/v1/chat/completions`` (llama.cpp's
``llama-server``, vLLM, Ollama, LM Studio …) with the standard library only. It
has the same two calls as the in-process controller: ``complete`` (a whole reply,
optionally constrained) and ``stream`` (server-sent events, one piece per
``data:`` line until ``[DONE]``). A constraint goes out the way the server
understands it: ``grammar_mode="gbnf"`` sends the GBNF in llama.cpp's ``grammar``
field, ``"json_schema"`` sends ``response_format`` with the JSON schema the caller
passed (servers without GBNF), ``"both"`` sends both, ``"off"`` neither.

It cannot continue a reply it did not start, so the planner gives it one call
under the whole-plan grammar (``supports_prefix`` is False). Offline mode allows
only a server on this machine; any failure is one line saying what to check.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator

from ..errors import Cancelled, HgptError, OfflineError
from .base import Controller

GRAMMAR_MODES = ("gbnf", "json_schema", "both", "off")


class RemoteControllerError(HgptError, ConnectionError):
    """The controller server could not be reached or answered with an error."""


class RemoteController(Controller):
    supports_prefix = False

    def __init__(self, base_url: str, *, model: str = "", api_key: str = "", timeout: float = 120.0,
                 grammar_mode: str = "gbnf", offline: bool = True):
        super().__init__()
        if grammar_mode not in GRAMMAR_MODES:
            raise HgptError(f"unknown grammar mode {grammar_mode!r}; use one of {', '.join(GRAMMAR_MODES)}")
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self.model, self.api_key, self.timeout = model, api_key, timeout
        self.grammar_mode, self.offline = grammar_mode, offline
        self.name = f"{model or 'remote'}@{self.host}"
        self.accepts_grammar = grammar_mode in ("gbnf", "both")
        self.accepts_schema = grammar_mode in ("json_schema", "both")

    # -- the two calls ------------------------------------------------------------------
    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None) -> str:
        if cancel is not None:
            cancel.check()
        started = time.perf_counter()
        body = self._body(messages, max_tokens, grammar, schema, stream=False)
        with self._post(body) as response:
            data = _json(response.read(), self.base_url)
        self._count(started)
        if cancel is not None:
            cancel.check()
        try:
            return data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise RemoteControllerError(
                f"{self.base_url} answered without choices[0].message.content; "
                "is it an OpenAI-compatible /v1/chat/completions server?") from None

    def stream(self, messages, *, max_tokens=512, cancel=None) -> Iterator[str]:
        started = time.perf_counter()
        try:
            with self._post(self._body(messages, max_tokens, None, None, stream=True)) as response:
                for line in response:
                    if cancel is not None and cancel.cancelled:
                        raise Cancelled("the run was cancelled")
                    line = line.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    payload = line[len("data:"):].strip()
                    if payload == "[DONE]":
                        break
                    piece = (_json(payload.encode(), self.base_url).get("choices") or [{}])[0]
                    text = (piece.get("delta") or {}).get("content")
                    if text:
                        yield text
        finally:
            self._count(started)

    # -- plumbing -------------------------------------------------------------------------
    def _body(self, messages, max_tokens, grammar, schema, stream) -> dict:
        body = {"messages": list(messages), "temperature": 0.0, "max_tokens": max_tokens, "stream": stream}
        if self.model:
            body["model"] = self.model
        if grammar and self.grammar_mode in ("gbnf", "both"):
            body["grammar"] = grammar
        if schema and self.grammar_mode in ("json_schema", "both"):
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "strict": True, "schema": schema}}
        return body

    def _post(self, body: dict):
        self._check_offline()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}/v1/chat/completions",
                                         data=json.dumps(body).encode("utf-8"), headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
            raise RemoteControllerError(
                f"the controller server {self.base_url} answered HTTP {exc.code}: {detail or exc.reason}; "
                "check the model name and the server's log") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteControllerError(
                f"cannot reach the controller server {self.base_url} ({reason}); "
                "start it or fix the address in Settings") from None

    def _check_offline(self) -> None:
        from ..offline import is_loopback

        if self.offline and not is_loopback(self.host):
            raise OfflineError(f"the controller server {self.base_url} is not on this machine and offline "
                               "mode is on; turn offline mode off in Settings (or HGPT_OFFLINE=0) to use it")

    def _count(self, started: float) -> None:
        self.stats.seconds += time.perf_counter() - started
        self.stats.calls += 1


def _json(raw: bytes, where: str) -> dict:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise RemoteControllerError(f"{where} did not answer with JSON: {raw[:80]!r}") from None
