"""A controller behind an OpenAI-compatible HTTP server: the path to a bigger model.

``RemoteController`` speaks ``POST {base}/v1/chat/completions`` (llama.cpp's
``llama-server``, llama-cpp-python's ``llama_cpp.server``, vLLM, Ollama, LM Studio …)
with the standard library only, asking for ``model`` (the settings'
``controller_model``; none: the server's own) with ``api_key`` as a bearer token
(the settings keep it in the OS keyring or a 0600 file, ``engine.secrets``; it is
never logged or shown in the controller's name). It has the same two calls as the
in-process controller: ``complete`` (a whole reply, optionally constrained) and
``stream`` (server-sent events, one piece per ``data:`` line until ``[DONE]``).
A constraint goes out the way the server understands it: ``grammar_mode="gbnf"``
sends the GBNF in llama.cpp's ``grammar`` field, ``"json_schema"`` sends
``response_format`` with the JSON schema the caller passed (servers without GBNF),
``"both"`` sends both, ``"off"`` neither (the planner then parses and repairs plain
text). ``"auto"`` (the default from Settings) finds out on first use with two tiny
probes (``detect``): a grammar that allows only one odd word — a server that honours
GBNF answers exactly that word — then, if not, a JSON schema with a one-value enum.
``accepts_grammar`` and ``accepts_schema`` say what was found. ``check`` is the
Settings window's "Test connection": the models the server lists, the grammar
support, and the time a one-token reply takes.

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

GRAMMAR_MODES = ("auto", "gbnf", "json_schema", "both", "off")
PROBE_WORD = "zqxv"  # a word no model says unprompted: only a grammar makes it the reply
PROBE_GBNF = f'root ::= "{PROBE_WORD}"'
PROBE_SCHEMA = {"type": "object", "properties": {"w": {"type": "string", "enum": [PROBE_WORD]}},
                "required": ["w"], "additionalProperties": False}


class RemoteControllerError(HgptError, ConnectionError):
    """The controller server could not be reached or answered with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status the server answered, None when it was not reached


class RemoteController(Controller):
    supports_prefix = False

    def __init__(self, base_url: str, *, model: str = "", api_key: str = "", timeout: float = 120.0,
                 grammar_mode: str = "gbnf", offline: bool = True):
        super().__init__()
        if grammar_mode not in GRAMMAR_MODES:
            raise HgptError(f"unknown grammar mode {grammar_mode!r}; use one of {', '.join(GRAMMAR_MODES)}")
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.host = urllib.parse.urlsplit(self.base_url).hostname or ""
        self.model, self.timeout = model, timeout
        self._api_key = api_key
        self.grammar_mode, self.offline = grammar_mode, offline
        self.name = f"{model or 'remote'}@{self.host}"

    def __repr__(self) -> str:  # the API key is never shown
        return f"<RemoteController {self.name} {self.base_url} grammar={self.grammar_mode}>"

    # -- what the server honours ----------------------------------------------------------
    @property
    def accepts_grammar(self) -> bool:
        return self._mode() in ("gbnf", "both")

    @property
    def accepts_schema(self) -> bool:
        return self._mode() in ("json_schema", "both")

    def _mode(self) -> str:
        if self.grammar_mode == "auto":
            try:
                self.grammar_mode = self.detect()
            except RemoteControllerError:
                return "off"  # not reachable now: asked again next time; the call itself says what is wrong
        return self.grammar_mode

    def detect(self) -> str:
        """``gbnf``, ``json_schema`` or ``off``: what this server honours, found by two probes."""
        probe = [{"role": "user", "content": "Say hello."}]
        try:
            if self._probe(probe, grammar=PROBE_GBNF).strip() == PROBE_WORD:
                return "gbnf"
        except RemoteControllerError as exc:
            if not getattr(exc, "status", None):
                raise  # down, not a refusal of the field
        try:
            reply = json.loads(self._probe(probe, schema=PROBE_SCHEMA))
            if reply == {"w": PROBE_WORD}:
                return "json_schema"
        except RemoteControllerError as exc:
            if not getattr(exc, "status", None):
                raise
        except (json.JSONDecodeError, TypeError):
            pass
        return "off"

    def _probe(self, messages, *, grammar=None, schema=None) -> str:
        body = {"messages": messages, "temperature": 0.0, "max_tokens": 8, "stream": False}
        if self.model:
            body["model"] = self.model
        if grammar:
            body["grammar"] = grammar
        if schema:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "strict": True, "schema": schema}}
        with self._post(body) as response:
            data = _json(response.read(), self.base_url)
        return ((data.get("choices") or [{}])[0].get("message") or {}).get("content") or ""

    def check(self) -> dict:
        """Test the connection: ``{"models": [...], "grammar": mode, "seconds": one short reply}``."""
        started = time.perf_counter()
        models = self.listed_models()
        self.complete([{"role": "user", "content": "Say OK."}], max_tokens=2)
        seconds = time.perf_counter() - started
        mode = self.detect() if self.grammar_mode == "auto" else self.grammar_mode
        return {"url": self.base_url, "models": models, "grammar": mode, "seconds": round(seconds, 3)}

    def listed_models(self) -> list[str]:
        """Model ids ``GET /v1/models`` lists ([] when the server does not say)."""
        self._check_offline()
        request = urllib.request.Request(f"{self.base_url}/v1/models", headers=self._headers())
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 10)) as response:
                data = _json(response.read(), self.base_url)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise RemoteControllerError(f"the controller server {self.base_url} refused the API key "
                                            f"(HTTP {exc.code}); check it in Settings", status=exc.code) from None
            return []
        except (urllib.error.URLError, OSError) as exc:
            raise RemoteControllerError(f"cannot reach the controller server {self.base_url} "
                                        f"({getattr(exc, 'reason', exc)}); start it or fix the address") from None
        return [m.get("id") for m in data.get("data", []) if isinstance(m, dict) and m.get("id")]

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
        if grammar and self.accepts_grammar:
            body["grammar"] = grammar
        if schema and self.accepts_schema:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "reply", "strict": True, "schema": schema}}
        return body

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _post(self, body: dict):
        self._check_offline()
        headers = {"Content-Type": "application/json", **self._headers()}
        request = urllib.request.Request(f"{self.base_url}/v1/chat/completions",
                                         data=json.dumps(body).encode("utf-8"), headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace").strip().replace("\n", " ")
            advice = ("check the API key in Settings" if exc.code in (401, 403)
                      else "check the model name and the server's log")
            raise RemoteControllerError(
                f"the controller server {self.base_url} answered HTTP {exc.code}: {detail or exc.reason}; "
                f"{advice}", status=exc.code) from None
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
