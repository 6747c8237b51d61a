"""llama.cpp in process: any chat GGUF through llama-cpp-python.

llama-cpp-python is imported when the first model loads. Calls are serialised by a
lock (one llama.cpp context), and every call checks its ``CancelToken`` between
generated tokens: a cancelled call stops within a token and raises ``Cancelled``.
States of earlier prompts are kept in a bounded RAM cache (``engine.controller.cache``),
so a prompt that starts like an earlier one — the planner's fixed instructions — is
not evaluated again; ``prime`` also keeps the state of such a fixed start on disk
(``state_dir``), keyed by the model file and the prompt's tokens, so a fresh
process restores it instead of evaluating a thousand tokens again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

from ..cancel import CancelToken
from ..errors import Cancelled, MissingDependencyError
from .base import Controller
from .packs import check_gguf, embedded_gguf

NO_SYSTEM_FORMATS = {"gemma"}


def _merge_system(messages: list[dict]) -> list[dict]:
    """For chat formats without a system role (Gemma): fold it into the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def _stopper(cancel: CancelToken | None):
    """llama.cpp's stopping criteria that end generation once ``cancel`` is set."""
    if cancel is None:
        return None
    from llama_cpp import StoppingCriteriaList

    return StoppingCriteriaList([lambda _ids, _logits: cancel.cancelled])


class LlamaController(Controller):
    """A GGUF chat model in process. Thread-safe: calls are serialised by a lock."""

    supports_prefix = True
    accepts_grammar = True

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 4096,
                 n_threads: int = 0, n_gpu_layers: int = -1, chat_format: str = "",
                 seed: int = 0, prefix_cache_mb: int = 256, state_dir: str | Path | None = None):
        super().__init__()
        self.path = check_gguf(model_path) if model_path else embedded_gguf()
        self.name = self.path.stem
        self._key = f"{self.path.name} ({self.path.stat().st_size} bytes)"
        self.options = dict(n_ctx=n_ctx, n_threads=n_threads or None,
                            n_gpu_layers=n_gpu_layers, seed=seed, verbose=False)
        if chat_format:
            self.options["chat_format"] = chat_format
        self.chat_format = chat_format
        self.prefix_cache_mb = prefix_cache_mb
        self.state_dir = Path(state_dir) if state_dir else None
        self.primed: dict[tuple, str] = {}  # fixed starts made ready: tokens -> "disk" | "evaluated"
        self._llama = None
        self._grammars: dict[str, object] = {}
        self._lock = threading.RLock()

    @property
    def key(self) -> str:
        return self._key

    @property
    def llama(self):
        if self._llama is None:
            try:
                import llama_cpp
            except ImportError as exc:
                raise MissingDependencyError("llama_cpp", "llm") from exc
            self._llama = llama_cpp.Llama(model_path=str(self.path), **self.options)
            self.chat_format = self.chat_format or (self._llama.chat_format or "")
        return self._llama

    def load(self) -> None:
        with self._lock:
            _ = self.llama

    def _grammar(self, gbnf: str):
        """The ``LlamaGrammar`` for ``gbnf``, compiled once by llama.cpp before it is used.

        llama-cpp-python's ``LlamaGrammar.from_string`` only stores the text: llama.cpp
        parses it when a sampler is built, and a grammar it cannot parse gives a null
        sampler that crashes the process at the first token. So each grammar is compiled
        here first; one llama.cpp rejects raises ``ValueError`` with llama.cpp's reason
        (a bug in whatever built the grammar, not something a user can fix)."""
        if gbnf not in self._grammars:
            import contextlib
            import io
            import os
            import sys
            import tempfile

            import llama_cpp

            vocab = self.llama._model.vocab

            def compiles() -> bool:
                sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), b"root")
                if sampler:
                    llama_cpp.llama_sampler_free(sampler)
                return bool(sampler)

            if not gbnf.strip():  # llama.cpp takes an empty grammar as "no constraint"
                raise ValueError("an empty GBNF grammar constrains nothing; pass grammar=None instead")
            if not compiles():
                # llama.cpp printed why on file descriptor 2: compile again with it captured
                # (only on this failure path) to put the reason in the error.
                with tempfile.TemporaryFile() as log, contextlib.redirect_stderr(io.StringIO()) as py_log:
                    sys.stderr.flush()
                    saved = os.dup(2)
                    os.dup2(log.fileno(), 2)
                    try:
                        compiles()
                    finally:
                        os.dup2(saved, 2)
                        os.close(saved)
                    log.seek(0)
                    printed = log.read().decode("utf-8", "replace") + py_log.getvalue()
                lines = [line.split("error parsing grammar:", 1)[-1].strip().removesuffix(" at")
                         for line in printed.splitlines() if "grammar" in line]
                reason = lines[0] if lines else "no reason given; does it define root and every rule it names?"
                first = gbnf.strip().splitlines()[0][:120]
                raise ValueError(f"llama.cpp cannot compile this GBNF grammar: {reason} (grammar begins {first!r})")
            self._grammars[gbnf] = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
        return self._grammars[gbnf]

    def _messages(self, messages: list[dict]) -> list[dict]:
        llama = self.llama
        if (self.chat_format or "") in NO_SYSTEM_FORMATS or "gemma" in (llama.metadata.get("general.architecture", "")):
            return _merge_system(messages)
        return messages

    def _chat(self, messages, max_tokens, grammar, cancel, **extra) -> Iterator[str]:
        """Reply pieces of a chat completion, checking ``cancel`` between them."""
        chunks = self.llama.create_chat_completion(
            messages=self._messages(messages), temperature=0.0, top_k=1, max_tokens=max_tokens,
            grammar=self._grammar(grammar) if grammar else None, stream=True, **extra)
        for chunk in chunks:
            if cancel is not None and cancel.cancelled:
                chunks.close()
                raise Cancelled("the run was cancelled")
            piece = chunk["choices"][0].get("delta", {}).get("content")
            if piece:
                yield piece

    def complete(self, messages, *, grammar=None, schema=None, max_tokens=512, cancel=None) -> str:
        if grammar:  # the prompt as the chat template writes it, then fast constrained decoding
            return self.complete_after(messages, "", grammar=grammar, max_tokens=max_tokens, cancel=cancel)
        with self._lock:
            started = time.perf_counter()
            try:
                return "".join(self._chat(messages, max_tokens, None, cancel))
            finally:
                self._count(started)

    def stream(self, messages, *, max_tokens=512, cancel=None) -> Iterator[str]:
        with self._lock:
            started = time.perf_counter()
            try:
                yield from self._chat(messages, max_tokens, None, cancel, repeat_penalty=1.3)
            finally:
                self._count(started)

    # -- continuing a reply the caller has begun (step-by-step planning) ---------------
    def _formatter(self):
        """The chat formatter: an explicit ``chat_format`` by name, else the GGUF's template."""
        from llama_cpp import llama_chat_format as fmt

        llama = self.llama
        explicit = self.options.get("chat_format")
        template = llama.metadata.get("tokenizer.chat_template")
        if template and not explicit:
            eos, bos = llama.token_eos(), llama.token_bos()
            text = lambda t: llama._model.token_get_text(t) if t != -1 else ""  # noqa: E731
            return fmt.Jinja2ChatFormatter(template=template, eos_token=text(eos), bos_token=text(bos))
        name = explicit or llama.chat_format or ""
        functions = {k[len("format_"):].replace("_", ""): getattr(fmt, k) for k in dir(fmt) if k.startswith("format_")}
        found = functions.get(name.replace("-", "").replace("_", ""))
        if found is None:
            from ..errors import UnknownNameError

            raise UnknownNameError("chat format", name or "(none)", sorted(functions))
        return found

    def render(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        """Prompt tokens for ``messages`` up to where the assistant's reply begins, and stop strings."""
        result = self._formatter()(messages=self._messages(messages))
        tokens = self.llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return tokens, stop

    def complete_after(self, messages, prefix: str, *, grammar=None, max_tokens=256, cancel=None) -> str:
        """Continue an assistant reply that starts with ``prefix``; returns only the new text."""
        with self._lock:
            if cancel is not None:
                cancel.check()
            started = time.perf_counter()
            try:
                llama = self.llama
                self._ensure_cache()
                tokens, stop = self.render(messages)
                tokens += llama.tokenize(prefix.encode("utf-8"), add_bos=False, special=False) if prefix else []
                if grammar:
                    self._grammar(grammar)  # compiled once: a grammar llama.cpp refuses is a clear error
                    from .constrained import greedy

                    text = greedy(llama, tokens, grammar, max_tokens, stop, cancel)
                else:
                    out = llama.create_completion(prompt=tokens, temperature=0.0, top_k=1, max_tokens=max_tokens,
                                                  stop=stop, stopping_criteria=_stopper(cancel))
                    text = out["choices"][0]["text"] or ""
            finally:
                self._count(started)
            if cancel is not None:
                cancel.check()
            return text

    def _ensure_cache(self):
        if self.prefix_cache_mb and self.llama.cache is None:
            from .cache import BoundedRAMCache  # counts the logits LlamaRAMCache leaves out

            self.llama.set_cache(BoundedRAMCache(self.prefix_cache_mb << 20))
        return self.llama.cache

    # -- a fixed start, evaluated once, kept on disk ----------------------------------------------
    def fixed_tokens(self, messages: list[dict]) -> list[int]:
        """The tokens every prompt beginning with ``messages`` shares, whatever user turn follows."""
        one, _ = self.render([*messages, {"role": "user", "content": "a"}])
        two, _ = self.render([*messages, {"role": "user", "content": "b"}])
        shared = 0
        while shared < min(len(one), len(two)) and one[shared] == two[shared]:
            shared += 1
        return one[:shared]

    def prime(self, messages: list[dict]) -> str:
        """Make the state after ``messages`` (a fixed start: instructions, task list) ready in
        the prompt cache: restored from disk when saved before, else evaluated now and saved.
        Returns "disk", "evaluated", "ready" (done earlier in this process) or "off"."""
        with self._lock:
            cache = self._ensure_cache()
            if cache is None:
                return "off"
            tokens = self.fixed_tokens(messages)
            key = tuple(tokens)
            if key in self.primed or not tokens:
                return "ready"
            path = self._state_path(tokens)
            from .cache import load_state_file, save_state_file

            state = load_state_file(path) if path is not None else None
            how = "disk"
            if state is None or state.input_ids[: state.n_tokens].tolist() != tokens:
                llama = self.llama
                llama.reset()
                llama.eval(tokens)
                state, how = llama.save_state(), "evaluated"
                if path is not None:
                    try:
                        save_state_file(path, state)
                    except OSError:
                        pass  # evaluated again next time
            cache[key] = state
            self.primed[key] = how
            return how

    def _state_path(self, tokens: list[int]) -> Path | None:
        if self.state_dir is None:
            return None
        import hashlib

        st = self.path.stat()
        identity = f"{self.path.name}:{st.st_size}:{st.st_mtime_ns}:{self.options.get('n_ctx')}"
        digest = hashlib.sha256(identity.encode() + bytes(str(tokens), "ascii")).hexdigest()[:24]
        return self.state_dir / self.path.stem / f"{digest}.npz"

    def _count(self, started: float) -> None:
        self.stats.seconds += time.perf_counter() - started
        self.stats.calls += 1
