"""The plain-Python models behind the window's views: the run graph (layout and
folding of events) and the model browser over a real catalog file."""

from __future__ import annotations

import pytest

from engine import events as ev
from engine.views.browse import ModelBrowser
from engine.catalog import open_catalog
from engine.errors import OfflineError
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.views.runview import RunView, layout


def test_layout_puts_each_task_one_layer_after_its_deepest_dependency():
    tasks = [{"id": 0, "dep": [-1]}, {"id": 1, "dep": [-1]}, {"id": 2, "dep": [0, 1]},
             {"id": 3, "dep": [0]}, {"id": 4, "dep": [2, 3]}]
    assert layout(tasks) == {0: (0, 0), 1: (0, 1), 2: (1, 0), 3: (1, 1), 4: (2, 0)}


def test_run_view_folds_events_into_node_states():
    view = RunView()
    view.apply(ev.RunStarted("r", "req", [], "/tmp"))
    plan = [{"id": 0, "task": "translation", "dep": [-1], "args": {"text": "hola"}},
            {"id": 1, "task": "text-to-speech", "dep": [0], "args": {"text": "<resource>-0"}}]
    assert view.apply(ev.PlanReady("r", plan, [], "", 0.1)) == {0, 1}
    cards = [{"id": "a/b", "downloads": 5}]
    assert view.apply(ev.ModelSelected("r", 0, "translation", "a/b", "best", cards)) == {0}
    view.apply(ev.TaskStarted("r", 0, "translation", "a/b", {}))
    assert view.nodes[0].status == "running"
    view.apply(ev.TaskFinished("r", 0, "translation", "a/b", "hello", [], {}, 1.5))
    view.apply(ev.TaskFailed("r", 1, "text-to-speech", "", "no voice", 0.0))
    view.apply(ev.RunFailed("r", "boom", "execute"))
    n0, n1 = view.ordered()
    assert (n0.status, n0.model_id, n0.reason, n0.seconds, n0.text) == ("done", "a/b", "best", 1.5, "hello")
    assert n0.candidates == cards and (n1.status, n1.error, n1.layer) == ("failed", "no voice", 1)
    assert view.status == "failed"


def test_a_running_node_has_its_progress_and_time_so_far():
    view = RunView()
    view.apply(ev.RunStarted("r", "req", [], "/tmp"))
    view.apply(ev.PlanReady("r", [{"id": 0, "task": "text-to-image", "dep": [-1], "args": {}}], [], "", 0.1))
    view.apply(ev.TaskStarted("r", 0, "text-to-image", "sd", {}))
    node = view.nodes[0]
    assert node.fraction is None and node.elapsed(node.started_at + 2.0) == pytest.approx(2.0)
    assert view.apply(ev.TaskProgress("r", 0, "text-to-image", 5, 20, "steps", 1.0)) == {0}
    assert node.progress == (5, 20, "steps") and node.fraction == 0.25
    view.apply(ev.TaskFinished("r", 0, "text-to-image", "sd", "an image", [], {}, 3.5))
    assert node.progress is None and node.elapsed() == 3.5  # once done: the time it took


def test_a_model_downloading_for_a_task_shows_its_bytes_before_the_task_starts():
    view = RunView()
    view.apply(ev.RunStarted("r", "req", [], "/tmp"))
    view.apply(ev.PlanReady("r", [{"id": 0, "task": "image-classification", "dep": [-1], "args": {}}], [], "", 0.1))
    view.apply(ev.TaskProgress("r", 0, "image-classification", 2**20, 4 * 2**20, "bytes", 3.0))
    node = view.nodes[0]
    assert node.status == "planned" and node.fraction == 0.25 and node.elapsed() >= 3.0
    view.apply(ev.TaskStarted("r", 0, "image-classification", "vit", {}))
    assert node.progress is None and node.status == "running" and node.elapsed() < 1.0


class Reader(Expert):
    model_id = "org/reader"
    tasks = ("image-to-text",)
    downloads = 7

    def run(self, task, args, ctx):
        return ExpertResult(text="x")


class Absent(Expert):
    model_id = "org/absent"
    tasks = ("image-to-text",)

    def missing(self):
        return "its weights are not installed; pip install absent-pack"


@pytest.fixture
def browser(settings):
    registry = ExpertRegistry([Reader(), Absent()])
    catalog = open_catalog(settings.catalog_path, registry)
    catalog.upsert([{"id": f"hub/m{i}", "task": "translation" if i % 3 else "summarization",
                     "downloads": 100 - i, "licence": "apache-2.0" if i % 2 else "mit",
                     "description": "a French model" if i == 4 else "a model"} for i in range(30)])
    return ModelBrowser(catalog, registry, settings)


def test_browser_pages_filters_and_marks_installed(browser):
    total = browser.count()
    assert total >= 32
    first, second = browser.page(0, 10), browser.page(10, 10)
    assert len(first) == 10 and {r["id"] for r in first}.isdisjoint(r["id"] for r in second)
    assert [r["downloads"] for r in first] == sorted((r["downloads"] for r in first), reverse=True)
    assert browser.count(task="summarization") == 10
    assert [r["id"] for r in browser.page(0, 5, task="summarization")][:2] == ["hub/m0", "hub/m3"]
    reader = browser.card("org/reader")
    assert reader["installed"] is True and browser.card("hub/m1")["installed"] is False
    assert "image-to-text" in browser.tasks()


def test_browser_search_is_the_catalogs_full_text_search(browser):
    assert [r["id"] for r in browser.search("french")] == ["hub/m4"]
    ranked = browser.search("model")
    assert [r["id"] for r in ranked] == [c["id"] for c in browser.catalog.search("model", limit=500)]
    assert len(browser.search("model", limit=7)) == 7
    assert {r["id"] for r in browser.search("model", task="summarization")} == {f"hub/m{i}" for i in range(0, 30, 3)}
    assert browser.search('"(', task="translation") == [] and browser.search("") == []
    assert [r["installed"] for r in browser.search("reader")] == [True]


def test_installed_experts_say_why_they_cannot_run(browser):
    rows = {r["id"]: r for r in browser.installed()}
    assert rows["org/reader"]["ready"] is True
    assert rows["org/absent"]["ready"] is False and "pip install absent-pack" in rows["org/absent"]["missing"]


def test_lock_status_and_pull_respect_offline_mode(browser, settings):
    lock = browser.lock()
    assert lock.available and lock.rows
    assert {r["status"] for r in lock.rows} <= {"installed", "missing", "mismatch", "unverifiable"}
    assert browser.can_pull() == (False, "offline mode is on: turn it off in Settings to download models")
    with pytest.raises(OfflineError, match="offline mode is on"):
        browser.pull("whatever")
