"""The Models view's search box over a real catalog of the 673 p0 model cards: it is
the catalog's full-text search (ranked, paged, safe with any text), typed into a
real ``ModelsView`` under pytest-qt."""

from __future__ import annotations

import pytest

import pytestqt  # noqa: E402,F401
from engine.views.browse import SEARCH_LIMIT, ModelBrowser  # noqa: E402
from engine.catalog import Catalog  # noqa: E402
from engine.catalog.importer import import_file  # noqa: E402
from engine.experts import ExpertRegistry  # noqa: E402

NASTY = ['"', "*", "a AND", "(", "-x", "task:"]


@pytest.fixture(scope="module")
def p0(shared_dir, tmp_path_factory):
    catalog = Catalog(tmp_path_factory.mktemp("p0") / "catalog.db")
    assert import_file(catalog, shared_dir / "catalog" / "p0_models.jsonl").imported == 673
    yield catalog
    catalog.close()


@pytest.fixture
def view(qtbot, p0, settings):
    from desktop.qt_models import ModelsView

    view = ModelsView(lambda: ModelBrowser(p0, ExpertRegistry(), settings))
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.model is not None, timeout=10_000)
    return view


def type_query(view, qtbot, text: str) -> None:
    """Type ``text`` into the search box and wait for the debounced search."""
    view.search.setText(text)
    qtbot.waitUntil(lambda: view.model.query == text, timeout=3_000)


def shown(view) -> list[str]:
    model = view.model
    return [model.data(model.index(r, 0)) for r in range(model.rowCount())]


def ranked(p0, query: str, task: str = "") -> list[str]:
    return [c["id"] for c in p0.search(query, task=task or None, limit=SEARCH_LIMIT)]


def select_task(view, task: str) -> None:
    view.task_filter.setCurrentIndex(view.task_filter.findData(task))


def test_a_word_of_the_description_finds_a_model_whose_id_lacks_it(view, qtbot, p0):
    type_query(view, qtbot, "financial")
    assert "ProsusAI/finbert" in shown(view)
    assert "financial" not in "ProsusAI/finbert".lower()  # a substring match on the id misses it
    assert "financial" in p0.get("ProsusAI/finbert")["description"].lower()


def test_results_are_in_the_engines_ranking_not_by_downloads(view, qtbot, p0):
    type_query(view, qtbot, "sentiment")
    assert shown(view) == ranked(p0, "sentiment") and len(shown(view)) > 5
    downloads = [row["downloads"] for row in view.model.rows]
    assert downloads != sorted(downloads, reverse=True)
    assert view.count_label.text() == f"{len(shown(view))} matches"
    select_task(view, "text-classification")
    assert shown(view) == ranked(p0, "sentiment", "text-classification")
    assert {p0.get(i)["task"] for i in shown(view)} == {"text-classification"}


def test_paging_through_the_matches_of_a_query(view, qtbot, p0):
    from desktop.qt_models import PAGE

    type_query(view, qtbot, "for")
    expected = ranked(p0, "for")
    assert PAGE < len(expected) < SEARCH_LIMIT
    model = view.model
    assert model.total == len(expected) and model.rowCount() == PAGE and model.canFetchMore()
    view.table.scrollToBottom()  # the view asks for the next page itself
    qtbot.waitUntil(lambda: model.rowCount() == 2 * PAGE, timeout=3_000)
    while model.canFetchMore():
        model.fetchMore()
    assert shown(view) == expected  # pages are slices of one ranking: nothing repeated, nothing skipped

    type_query(view, qtbot, "model")  # more matches than a search lists
    assert view.model.total == SEARCH_LIMIT and view.count_label.text() == f"best {SEARCH_LIMIT} matches"
    while view.model.canFetchMore():
        view.model.fetchMore()
    assert shown(view) == ranked(p0, "model")

    type_query(view, qtbot, "")  # an empty box lists the catalog by downloads again
    assert view.model.matches is None and view.model.total == p0.count() == 673
    downloads = [row["downloads"] for row in view.model.rows]
    assert len(downloads) == PAGE and downloads == sorted(downloads, reverse=True)
    assert view.count_label.text() == "673 models"


@pytest.mark.parametrize("text", NASTY)
def test_query_syntax_shows_results_or_nothing_never_an_error(view, qtbot, p0, text):
    with qtbot.capture_exceptions() as exceptions:
        for task in ("", "text-classification"):
            select_task(view, task)
            type_query(view, qtbot, text)
            assert shown(view) == ranked(p0, text, task)[:len(shown(view))]
            assert view.model.total == len(ranked(p0, text, task))
            assert view.count_label.text().endswith(("match", "matches"))
    assert not exceptions, exceptions


def test_typing_runs_one_search_once_the_typing_pauses(view, qtbot, monkeypatch):
    calls = []
    search = view.browser.search
    monkeypatch.setattr(view.browser, "search", lambda *a, **k: calls.append(a) or search(*a, **k))
    for n in range(1, len("finbert") + 1):
        view.search.setText("finbert"[:n])
    qtbot.waitUntil(lambda: view.model.query == "finbert", timeout=3_000)
    assert calls == [("finbert", "")]
    assert shown(view)[0] == "ProsusAI/finbert"


def test_plugins_that_failed_to_load_are_shown(qtbot, p0, settings):
    from desktop.qt_models import ModelsView

    registry = ExpertRegistry()
    registry.plugin_errors["acme-experts"] = "No module named 'acme'"
    view = ModelsView(lambda: ModelBrowser(p0, registry, settings))
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: view.model is not None, timeout=10_000)
    assert view.plugin_label.isVisible()
    assert view.plugin_label.text() == "⚠ plugin acme-experts failed to load: No module named 'acme'"
