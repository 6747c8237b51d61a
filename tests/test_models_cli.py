"""``hgpt models list`` shows the expert plugins that failed to load, after its table."""

from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.experts import registry as registry_module
from engine.experts.base import Expert
from engine.experts.registry import ExpertRegistry


class Good(Expert):
    model_id, tasks = "acme/good", ("text-classification",)


class EntryPoint:
    def __init__(self, name, register):
        self.name, self._register = name, register

    def load(self):
        return self._register


def broken(registry):
    raise ImportError("No module named 'acme_runtime'")


@pytest.fixture
def plugins(monkeypatch):
    """Two plugins in place of the installed ones: one that works, one that does not."""
    installed = [EntryPoint("acme-good", lambda r: r.register(Good())), EntryPoint("acme-broken", broken)]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(installed))
    return installed


def test_a_broken_plugin_is_kept_with_its_message_and_the_others_load(plugins):
    registry = ExpertRegistry().load_plugins()
    assert "acme/good" in registry
    assert registry.plugin_errors == {"acme-broken": "No module named 'acme_runtime'"}


def test_models_list_prints_a_line_per_broken_plugin_after_the_table(plugins, capsys):
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert lines[0].startswith("NAME") and any(line.startswith("rapidocr-pp-ocrv4") for line in lines)
    assert lines[-1] == "expert plugin acme-broken failed to load: No module named 'acme_runtime'"
    assert lines[-2] == ""


def test_models_list_json_has_the_plugin_errors_field(plugins, capsys):
    assert main(["models", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plugin_errors"] == {"acme-broken": "No module named 'acme_runtime'"}
    assert "rapidocr-pp-ocrv4" in {row["name"] for row in data["models"]}


def test_with_every_plugin_loading_nothing_more_is_printed(plugins, capsys):
    plugins.pop()
    assert main(["models", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["plugin_errors"] == {}
    assert main(["models", "list"]) == 0
    assert "failed to load" not in capsys.readouterr().out


def test_a_built_in_module_that_fails_is_reported_and_the_rest_register(monkeypatch):
    from engine.experts import builtin

    monkeypatch.setattr(builtin, "BUILTIN_MODULES",
                        ["engine.experts.no_such_module_hgpt", "engine.experts.ocr", "engine.experts.sphinx"])
    registry = ExpertRegistry()
    builtin.register(registry)
    assert {e.model_id for e in registry} == {"RapidAI/RapidOCR", "cmusphinx/pocketsphinx-en-us"}
    assert registry.plugin_errors == {
        "builtin:engine.experts.no_such_module_hgpt": "No module named 'engine.experts.no_such_module_hgpt'"}


def test_the_message_is_one_line_and_never_empty():
    registry = ExpertRegistry()
    registry.plugin_failed("a", RuntimeError("first line\nsecond line"))
    registry.plugin_failed("b", KeyError())
    assert registry.plugin_errors == {"a": "first line", "b": "KeyError"}
