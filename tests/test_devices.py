"""engine.devices: the device and number format torch models use on this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine import devices
from engine.errors import UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


def test_the_device_is_one_torch_can_use_here(monkeypatch):
    torch = pytest.importorskip("torch")
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


def test_a_broken_torchvision_is_hidden_and_transformers_still_loads_images():
    """Run in a fresh process: whether torchvision loads here or not, image processors work."""
    code = ("import sys; from engine import devices; ok = devices.usable_torchvision(); "
            "from engine.experts.hf.load import prepare; prepare(); "
            "from transformers import ViTImageProcessor; from PIL import Image; "
            "out = ViTImageProcessor(size={'height': 8, 'width': 8})(Image.new('RGB', (20, 10)), return_tensors='np'); "
            "assert out['pixel_values'].shape == (1, 3, 8, 8); "
            "assert ok or sys.modules['torchvision'] is None")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=300)
