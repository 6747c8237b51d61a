"""Device choices for llama.cpp, onnxruntime and torch, as pure functions of the probed
facts, so the GPU cases are checked here without a GPU; and the real probes on this machine."""

from __future__ import annotations

import pytest

from engine.devices import (llama_gpu_layers, onnx_providers, pick_torch_device, probe_llama_gpu_offload,
                            probe_onnx_providers)

CPU = "CPUExecutionProvider"


def test_llama_offloads_all_layers_only_when_the_build_can():
    assert llama_gpu_layers(-1, gpu_offload=True) == -1
    assert llama_gpu_layers(20, gpu_offload=True) == 20
    assert llama_gpu_layers(-1, gpu_offload=False) == 0
    assert llama_gpu_layers(20, gpu_offload=False) == 0


@pytest.mark.parametrize("available, expected", [
    (["CPUExecutionProvider"], [CPU]),
    (["AzureExecutionProvider", CPU], [CPU]),
    ([CPU, "CUDAExecutionProvider", "TensorrtExecutionProvider"], ["CUDAExecutionProvider", CPU]),
    (["ROCMExecutionProvider", CPU], ["ROCMExecutionProvider", CPU]),
    (["CoreMLExecutionProvider", CPU], ["CoreMLExecutionProvider", CPU]),
    (["DmlExecutionProvider", CPU], ["DmlExecutionProvider", CPU]),
    (["DmlExecutionProvider", "CUDAExecutionProvider"], ["CUDAExecutionProvider", "DmlExecutionProvider", CPU]),
    ([], [CPU]),
])
def test_onnx_providers_in_preference_order_with_the_cpu_last(available, expected):
    assert onnx_providers(available) == expected


def test_forcing_the_cpu_keeps_only_the_cpu_provider():
    assert onnx_providers(["CUDAExecutionProvider", CPU], device="cpu") == [CPU]


def test_torch_device_preference():
    assert pick_torch_device(cuda=True, mps=True) == "cuda"
    assert pick_torch_device(cuda=False, mps=True) == "mps"
    assert pick_torch_device(cuda=False, mps=False) == "cpu"
    assert pick_torch_device(cuda=True, mps=False, forced="cpu") == "cpu"


def test_probes_on_this_machine():
    import llama_cpp
    import onnxruntime as ort

    providers = probe_onnx_providers()
    assert providers[-1] == CPU and set(providers) <= set(ort.get_available_providers())
    assert probe_llama_gpu_offload() == bool(llama_cpp.llama_supports_gpu_offload())


def test_the_controller_gets_the_offload_decision(settings):
    import llama_cpp

    from engine.controller import load_controller

    controller = load_controller(settings)  # builds the controller; the GGUF loads on first use
    expected = settings.n_gpu_layers if llama_cpp.llama_supports_gpu_offload() else 0
    assert controller.options["n_gpu_layers"] == expected
