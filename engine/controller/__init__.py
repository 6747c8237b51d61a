"""The controller LLM: one declared interface (``base``), llama.cpp in process
(``llama``), an OpenAI-compatible server (``remote``), the GGUF files (``packs``) and
llama.cpp's bounded prompt cache (``cache``). Nothing heavy is imported here.
"""

from __future__ import annotations

from .base import Controller, FirstChoice, GenerationStats


def is_url(value: str) -> bool:
    return str(value).startswith(("http://", "https://"))


def resolve(settings):
    """The GGUF file and chat format the settings' controller means: "" is the best
    controller installed for this machine's memory, a models.lock name is that
    controller (joined from its packs on first use), anything else a GGUF path."""
    from ..models import load_lock
    from .packs import check_gguf, controller_gguf, default_controller

    name = settings.controller or default_controller()
    entry = load_lock().find(name)
    if entry is not None and "controller" in entry.tasks:
        return controller_gguf(entry.name, settings.models_dir), entry.extra.get("chat_format", "")
    return check_gguf(name), ""


def load_controller(settings) -> Controller:
    """The controller the settings name (see ``resolve``), or the ``http(s)://`` address
    of an OpenAI-compatible server."""
    if is_url(settings.controller):
        from .remote import RemoteController

        return RemoteController(settings.controller, model=settings.controller_model,
                                api_key=settings.controller_api_key, offline=settings.offline,
                                grammar_mode=settings.controller_grammar or "auto")
    from ..devices import llama_gpu_layers, probe_llama_gpu_offload
    from .llama import LlamaController

    path, chat_format = resolve(settings)
    return LlamaController(
        path, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
        n_gpu_layers=llama_gpu_layers(settings.n_gpu_layers, probe_llama_gpu_offload()),
        chat_format=settings.chat_format or chat_format, state_dir=settings.cache_dir / "llama-states",
    )


def probe_controller(settings) -> dict:
    """The Settings window's "Test connection" for a controller URL: the models the server
    lists, the grammar support found, and the seconds one short reply took (a
    ``RemoteControllerError`` or ``OfflineError`` says what is wrong in one line)."""
    from .remote import RemoteController

    if not is_url(settings.controller):
        from ..errors import UserInputError

        raise UserInputError("the controller is not a server address (http://… or https://…)")
    return RemoteController(settings.controller, model=settings.controller_model,
                            api_key=settings.controller_api_key, offline=settings.offline,
                            grammar_mode=settings.controller_grammar or "auto", timeout=30).check()


def check_controller(settings) -> None:
    """The controller is checked before anything starts: a file must be a GGUF, a name
    must be a controller in models.lock (a URL is checked on use)."""
    if not settings.controller or is_url(settings.controller):
        return
    from ..models import load_lock
    from .packs import check_gguf

    entry = load_lock().find(settings.controller)
    if entry is None:
        check_gguf(settings.controller)
    elif "controller" not in entry.tasks:
        from ..errors import UserInputError

        raise UserInputError(f"{entry.name} is not a controller; name a GGUF file or one of the controllers "
                             "in 'hgpt models list'")


__all__ = ["Controller", "FirstChoice", "GenerationStats", "load_controller", "check_controller", "is_url",
           "probe_controller"]
