"""The controller LLM: one declared interface (``base``), llama.cpp in process
(``llama``), an OpenAI-compatible server (``remote``), the GGUF files (``packs``) and
llama.cpp's bounded prompt cache (``cache``). Nothing heavy is imported here.
"""

from __future__ import annotations

from .base import Controller, FirstChoice, GenerationStats


def is_url(value: str) -> bool:
    return str(value).startswith(("http://", "https://"))


def load_controller(settings) -> Controller:
    """The controller the settings name: a GGUF path (default: the embedded model), or
    the ``http(s)://`` address of an OpenAI-compatible server."""
    if is_url(settings.controller):
        from .remote import RemoteController

        return RemoteController(settings.controller, offline=settings.offline)
    from ..devices import llama_gpu_layers, probe_llama_gpu_offload
    from .llama import LlamaController

    return LlamaController(
        settings.controller or None, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
        n_gpu_layers=llama_gpu_layers(settings.n_gpu_layers, probe_llama_gpu_offload()),
        chat_format=settings.chat_format,
    )


def check_controller(settings) -> None:
    """A local controller file is checked before anything starts (a URL is checked on use)."""
    if settings.controller and not is_url(settings.controller):
        from .packs import check_gguf

        check_gguf(settings.controller)


__all__ = ["Controller", "FirstChoice", "GenerationStats", "load_controller", "check_controller", "is_url"]
