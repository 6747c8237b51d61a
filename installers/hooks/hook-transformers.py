"""transformers, for the Hugging Face models a user downloads later: any architecture.

transformers resolves ``AutoModel``/``pipeline`` classes through lazy modules that
import ``transformers.models.<arch>.modeling_<arch>`` by name at run time, which import
analysis cannot follow, and collecting every submodule through the module graph
(thousands of modules) would take most of the build. So all of its ``.py`` files are
copied as plain files: modules found in the graph load from the archive, the rest from
those files. The metadata part is the community hook's: transformers checks its
dependencies' versions through ``importlib.metadata``. This hook replaces the
community ``hook-transformers`` (a project hook path takes precedence).
"""

from PyInstaller.utils.hooks import collect_data_files, copy_metadata, get_module_attribute, is_module_satisfies

datas = collect_data_files("transformers", include_py_files=True, excludes=["**/*.pyi", "**/__pycache__/**"])
try:
    deps = get_module_attribute("transformers.dependency_versions_table", "deps")
except Exception:
    deps = {}
for name, requirement in {"transformers": "transformers", **deps}.items():
    if is_module_satisfies(requirement):
        try:
            datas += copy_metadata(name)
        except Exception:
            pass
module_collection_mode = "pyz+py"
