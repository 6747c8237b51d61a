"""llama-cpp-python loads libllama/libggml with ctypes from ``llama_cpp/lib`` next to its
own modules, so those libraries must land in that folder of the bundle (PyInstaller's
import analysis cannot see a ctypes load). Its chat-format code reads Jinja templates."""

from PyInstaller.utils.hooks import PY_DYLIB_PATTERNS, collect_data_files, collect_dynamic_libs

binaries = collect_dynamic_libs("llama_cpp", search_patterns=PY_DYLIB_PATTERNS + ["*.so.*"])
datas = collect_data_files("llama_cpp", excludes=["**/*.h", "**/*.cmake", "**/*.pc", "server/**"])
hiddenimports = ["llama_cpp.llama_chat_format", "llama_cpp.llama_grammar", "llama_cpp.llama_tokenizer"]
excludedimports = ["llama_cpp.server"]
