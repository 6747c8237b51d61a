"""CTranslate2 (faster-whisper's runtime): its libraries sit in ``ctranslate2.libs`` and
are found through the extension's rpath, which binary analysis follows; the model
converters import transformers and friends and are never used at run time."""

from PyInstaller.utils.hooks import collect_dynamic_libs, collect_submodules

binaries = collect_dynamic_libs("ctranslate2")
hiddenimports = collect_submodules("ctranslate2", filter=lambda name: ".converters" not in name)
excludedimports = ["ctranslate2.converters"]
