"""engine.devices: the device and number format torch models use on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import devices
from engine.errors import UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


def test_the_device_is_one_torch_can_use_here(monkeypatch):
    import torch

    monkeypatch.delenv("HGPT_DEVICE", raising=False)
    device = devices.torch_device()
    assert device in devices.DEVICES
    assert torch.zeros(1, device=device).device.type == device
    assert devices.torch_dtype(device) == (torch.float32 if device == "cpu" else torch.float16)


def test_hgpt_device_overrides_and_a_wrong_name_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("HGPT_DEVICE", "CPU")
    assert devices.torch_device() == "cpu"
    monkeypatch.setenv("HGPT_DEVICE", "tpu")
    with pytest.raises(UnknownNameError, match="cuda, mps, cpu|cpu, cuda, mps"):
        devices.torch_device()


CHECK = ("import sys; from engine import devices; ok = devices.usable_torchvision(); "
         "from engine.experts.hf.load import prepare; prepare(); "
         "from transformers import ViTImageProcessor; from PIL import Image; "
         "out = ViTImageProcessor(size={'height': 8, 'width': 8})(Image.new('RGB', (20, 10)), return_tensors='np'); "
         "assert out['pixel_values'].shape == (1, 3, 8, 8); print('usable' if ok else 'hidden')")


def test_a_torchvision_that_fails_on_import_is_hidden_and_images_still_load(tmp_path):
    """A torchvision whose import fails the way a CUDA build beside CPU torch does."""
    fake = tmp_path / "site" / "torchvision"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('operator torchvision::nms does not exist')\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, env=env, check=True, timeout=300,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "hidden"
    assert "torchvision is installed but cannot load" in out.stderr


def test_image_processors_load_whatever_torchvision_is_here():
    """Run in a fresh process: with torchvision working, absent or broken, image processors work."""
    subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, check=True, timeout=300, capture_output=True)


def test_the_device_override_comes_from_environment(monkeypatch):
    """devices reads HGPT_DEVICE through engine.settings.environment(), at each call."""
    from engine.settings import Environment

    monkeypatch.setattr(devices, "environment", lambda: Environment(device=" MPS "))
    assert devices.torch_device() == "mps"  # no torch needed: the override answers
    monkeypatch.setattr(devices, "environment", lambda: Environment(device="cpu"))
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert devices.probe_onnx_providers() == ["CPUExecutionProvider"]
    monkeypatch.setattr(devices, "environment", lambda: Environment())
    assert devices.probe_onnx_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_hgpt_device_is_read_fresh_at_each_call(monkeypatch):
    monkeypatch.setenv("HGPT_DEVICE", "mps")
    assert devices.torch_device() == "mps"
    monkeypatch.setenv("HGPT_DEVICE", "cpu")
    assert devices.torch_device() == "cpu"
