"""RapidOCR ships its detection/recognition ONNX models and ``config.yaml`` inside the
package and opens them by path."""

from PyInstaller.utils.hooks import collect_data_files, collect_submodules

datas = collect_data_files("rapidocr_onnxruntime")
hiddenimports = collect_submodules("rapidocr_onnxruntime")
