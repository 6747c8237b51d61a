"""optimum decides which back ends exist from installed distributions' metadata and
imports its ONNX Runtime classes lazily by name."""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

datas = copy_metadata("optimum")
for dist in ("optimum-onnx", "onnxruntime", "onnx"):
    try:
        datas += copy_metadata(dist)
    except Exception:
        pass
hiddenimports = collect_submodules("optimum.onnxruntime", filter=lambda name: ".training" not in name)
