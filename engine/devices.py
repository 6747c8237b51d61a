"""Which device and number format each runtime should use on this machine.

One place answers "where does a model run": ``torch_device()`` picks CUDA, then
Apple's MPS, then the CPU, and ``torch_dtype()`` gives float16 on a GPU (half the
memory, faster) and float32 on the CPU (float16 matmuls are slow or missing there).
``HGPT_DEVICE`` overrides the choice (``cpu`` forces the CPU on a GPU machine); it is
read through ``engine.settings.environment()`` at each call.
Other runtimes (llama.cpp layers, onnxruntime providers) get their own function
here, so the answer for a machine stays in one module.

torch is imported only when a function is called. ``usable_torchvision()`` guards a
known trap: a torchvision wheel built for CUDA next to a CPU-only torch fails on
import (``operator torchvision::nms does not exist``), and transformers imports it
whenever it is installed, which breaks every image model. When that happens the
broken package is hidden for this process, so transformers falls back to its
Pillow image path instead of crashing.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from .settings import environment

log = logging.getLogger(__name__)

DEVICES = ("cuda", "mps", "cpu")


def torch_device() -> str:
    """"cuda", "mps" or "cpu": the fastest device torch can use here (``HGPT_DEVICE`` overrides)."""
    forced = environment().device_override
    if forced:
        if forced not in DEVICES:
            from .errors import UnknownNameError

            raise UnknownNameError("device (HGPT_DEVICE)", forced, list(DEVICES))
        return forced
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def torch_dtype(device: str | None = None):
    """float16 on a GPU, float32 on the CPU."""
    import torch

    device = device or torch_device()
    return torch.float16 if device in ("cuda", "mps") else torch.float32


def usable_torchvision() -> bool:
    """Import torchvision once; if it is installed but broken, hide it and return False."""
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"] is not None
    try:
        import torchvision  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "torchvision":
            return False
        _hide_torchvision(exc)
        return False
    except Exception as exc:  # a CUDA-only build beside CPU torch raises RuntimeError
        _hide_torchvision(exc)
        return False
    return True


def _hide_torchvision(exc: BaseException) -> None:
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]
    sys.modules["torchvision"] = None  # importlib.util.find_spec() now answers "not installed"
    log.warning("torchvision is installed but cannot load (%s); image models use Pillow instead. "
                "Install the torchvision build that matches torch to use it.", exc)


# -- llama.cpp and onnxruntime ---------------------------------------------------------------
# Pure functions take the probed facts as arguments, so the GPU cases are tested on a
# machine without a GPU; the probe_* functions ask the libraries (imported lazily).
ORT_PREFERENCE = ("CUDAExecutionProvider", "ROCMExecutionProvider", "CoreMLExecutionProvider",
                  "DmlExecutionProvider", "CPUExecutionProvider")


def llama_gpu_layers(requested: int, gpu_offload: bool) -> int:
    """``n_gpu_layers`` for llama.cpp: 0 on a CPU-only build, else what was asked (-1 = all)."""
    return requested if gpu_offload else 0


def probe_llama_gpu_offload() -> bool:
    """Whether this llama-cpp-python build can offload layers to a GPU (False if absent)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    supports = getattr(llama_cpp, "llama_supports_gpu_offload", None)
    return bool(supports()) if supports else False


def onnx_providers(available: list[str] | tuple[str, ...], device: str = "") -> list[str]:
    """onnxruntime providers to try, best first: CUDA, ROCm, CoreML, DirectML, then the CPU.

    ``device == "cpu"`` (e.g. ``HGPT_DEVICE=cpu``) keeps only the CPU. Providers this
    list does not know (TensorRT, OpenVINO, Azure…) are left out: they need setup
    that a default install does not do. The CPU provider is always last.
    """
    wanted = ("CPUExecutionProvider",) if device == "cpu" else ORT_PREFERENCE
    chosen = [p for p in wanted if p in available and p != "CPUExecutionProvider"]
    return chosen + ["CPUExecutionProvider"]


def probe_onnx_providers() -> list[str]:
    try:
        import onnxruntime
    except ImportError:
        return ["CPUExecutionProvider"]
    return onnx_providers(onnxruntime.get_available_providers(), environment().device_override)


def pick_torch_device(cuda: bool, mps: bool, forced: str = "") -> str:
    """The torch device for the given facts: ``forced`` if set, else cuda, mps, cpu."""
    if forced:
        return forced
    return "cuda" if cuda else "mps" if mps else "cpu"


# -- what GPUs this machine has (for people: the welcome page) -------------------------------
@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mb: float  # 0 when not known; for Apple silicon, the memory it shares with the CPU
    shared: bool = False  # the GPU uses the machine's memory (Apple silicon)


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits`` lines."""
    found = []
    for line in text.splitlines():
        name, _, memory = line.rpartition(",")
        try:
            found.append(Gpu(name.strip(), float(memory.strip())))
        except ValueError:
            continue
    return [g for g in found if g.name]


def gpus(timeout: float = 3.0) -> list[Gpu]:
    """The GPUs a model could use here, without importing torch: NVIDIA cards through
    ``nvidia-smi``, torch's view when torch is already loaded, Apple silicon through
    ``sysctl``. An empty list: the CPU does the work."""
    import platform
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=timeout)
            found = parse_nvidia_smi(out.stdout) if out.returncode == 0 else []
            if found:
                return found
        except (OSError, subprocess.SubprocessError):
            pass
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "cuda", None) is not None and torch.cuda.is_available():
        return [Gpu(torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory / 2**20)
                for i in range(torch.cuda.device_count())]
    if sys.platform == "darwin" and platform.machine() == "arm64":
        from .memory import total_memory_mb

        return [Gpu("Apple silicon GPU", total_memory_mb(), shared=True)]
    return []
