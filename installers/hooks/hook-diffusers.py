"""diffusers, like transformers, imports its pipelines and models lazily by name and
decides what is available from distribution metadata: all of its ``.py`` files are
copied as plain files, and the metadata of the libraries it probes is kept."""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata

datas = collect_data_files("diffusers", include_py_files=True, excludes=["**/*.pyi", "**/__pycache__/**"])
for dist in ("diffusers", "accelerate", "torch", "transformers", "safetensors", "huggingface-hub", "Pillow"):
    try:
        datas += copy_metadata(dist)
    except Exception:
        pass
hiddenimports = ["diffusers.pipelines", "diffusers.models"]
excludedimports = ["diffusers.commands"]
module_collection_mode = "pyz+py"
