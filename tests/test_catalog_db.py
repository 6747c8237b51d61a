"""The catalog's storage, for real: SQLite files in tmp dirs, the real p0 sample, FTS5.

Covers numbered transactional migrations, the selection query and its index,
full-text search, upsert merging, damaged files and rebuild, and readers that
keep answering while an import writes (WAL).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time

import pytest

from engine.catalog import Catalog, CatalogCorruptError, rebuild_catalog
from engine.catalog.db import top_k_sql
from engine.catalog.importer import import_file
from engine.catalog.schema import migrations as catalog_migrations
from engine.store.migrations import NewerDatabaseError


@pytest.fixture(scope="module")
def p0_path(shared_dir):
    return shared_dir / "catalog" / "p0_models.jsonl"


@pytest.fixture(scope="module")
def p0(p0_path, tmp_path_factory):
    """The 673 real cards of the HuggingGPT reference implementation, imported once."""
    catalog = Catalog(tmp_path_factory.mktemp("p0") / "catalog.db")
    report = import_file(catalog, p0_path)
    assert report.imported == 673 and not report.skipped
    yield catalog
    catalog.close()


def _p0_records(p0_path):
    return [json.loads(line) for line in p0_path.read_text().splitlines()]


# -- migrations ----------------------------------------------------------------------
def test_migrations_are_numbered_from_one_and_all_applied(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    numbers = [m.number for m in catalog_migrations.all]
    assert numbers == list(range(1, len(numbers) + 1))
    assert catalog_migrations.applied(catalog.connect()) == numbers
    names = [r["name"] for r in catalog.connect().execute("SELECT name FROM _migrations ORDER BY number")]
    assert names == [m.name for m in catalog_migrations.all]


def test_migrations_are_idempotent(tmp_path):
    path = tmp_path / "c.db"
    Catalog(path).upsert([{"id": "a/b", "pipeline_tag": "fill-mask", "downloads": 3}])
    again = Catalog(path)
    assert catalog_migrations.apply(again.connect()) == []
    assert again.count() == 1 and again.top_k("fill-mask")[0]["id"] == "a/b"
    rows = again.connect().execute("SELECT count(*) FROM _migrations").fetchone()[0]
    assert rows == len(catalog_migrations.all)


def test_a_catalog_from_before_migrations_is_upgraded(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE models (id TEXT PRIMARY KEY, task TEXT NOT NULL);"
                       "CREATE TABLE model_tasks (model_id TEXT, task TEXT);"
                       "INSERT INTO models VALUES ('x/y', 'fill-mask');")
    conn.close()
    catalog = Catalog(path)
    assert catalog_migrations.applied(catalog.connect()) == [m.number for m in catalog_migrations.all]
    assert "downloads" in catalog.db["models"].columns_dict


def test_a_catalog_written_by_a_newer_hgpt_is_refused_and_rebuild_starts_afresh(tmp_path):
    path = tmp_path / "catalog.db"
    Catalog(path).upsert([{"id": "a/b", "pipeline_tag": "fill-mask"}])
    future = len(catalog_migrations.all) + 1
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO _migrations VALUES (?, 'from_the_future', '2100-01-01')", (future,))
    before = path.read_bytes()
    with pytest.raises(NewerDatabaseError, match="newer hgpt") as info:
        Catalog(path)
    assert info.value.unknown == [future]
    assert "update hgpt" in str(info.value) and "hgpt catalog rebuild" in str(info.value)
    assert path.read_bytes() == before  # refused untouched
    aside, fresh = rebuild_catalog(path, cache_dir=tmp_path / "none", lock_files=[])
    assert aside.read_bytes() == before and ".old-" in aside.name
    assert fresh.count() == 0 and catalog_migrations.applied(fresh.connect())[-1] == future - 1


def test_catalog_connections_are_per_thread_with_the_catalogs_setup(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    here, there = catalog.connect(), []
    thread = threading.Thread(target=lambda: there.append(catalog.connect()))
    thread.start()
    thread.join()
    assert there[0] is not here and catalog.connect() is here
    for conn in (here, there[0]):  # check_same_thread is off: usable (and closable) from here
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA recursive_triggers").fetchone()[0] == 1
        assert conn.execute("SELECT log10(1000)").fetchone()[0] == pytest.approx(3.0)
    assert catalog.db.conn is here and catalog.db is catalog.db  # one sqlite-utils wrapper per thread
    with catalog.transaction() as outer, catalog.transaction() as inner:  # nested: one transaction
        assert inner is outer and outer.in_transaction
        inner.execute("INSERT INTO catalog_meta VALUES ('k', 'v')")
    assert catalog.meta("k") == "v"
    catalog.close()
    with pytest.raises(sqlite3.ProgrammingError):
        there[0].execute("SELECT 1")
    assert catalog.connect() is not here and catalog.count() == 0


# -- the real p0 sample --------------------------------------------------------------
def test_top1_image_classification_is_the_most_downloaded_in_the_file(p0, p0_path):
    records = [r for r in _p0_records(p0_path) if r["task"] == "image-classification"]
    best = max(records, key=lambda r: r["downloads"])
    top = p0.top_k("image-classification", 1)
    assert top[0]["id"] == best["id"] == "timm/vit_large_patch14_clip_224.openai_ft_in12k_in1k"
    assert top[0]["downloads"] == best["downloads"]


def test_top_k_is_sorted_by_downloads_and_carries_the_shown_fields(p0, p0_path):
    for task in ("text-classification", "automatic-speech-recognition", "text-to-video"):
        cards = p0.top_k(task, 5, description_chars=80)
        expected = sorted((r for r in _p0_records(p0_path) if r["task"] == task),
                          key=lambda r: -r["downloads"])[:5]
        assert [c["id"] for c in cards] == [r["id"] for r in expected]
        for card in cards:
            assert set(card) >= {"id", "downloads", "likes", "licence", "size_mb", "installed", "description"}
            assert len(card["description"]) <= 80 and card["installed"] is False


def test_top_k_among_a_set_of_ids(p0):
    among = ["microsoft/resnet-50", "google/vit-base-patch16-224", "not/in-catalog"]
    cards = p0.top_k("image-classification", 5, among=among)
    assert [c["id"] for c in cards] == ["google/vit-base-patch16-224", "microsoft/resnet-50"]
    assert p0.top_k("image-classification", 5, among=[]) == []


def test_selection_query_is_an_index_range_scan_without_a_sort(p0):
    sql, params = top_k_sql("image-classification", 5)
    plan = " | ".join(r[3] for r in p0.connect().execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "model_tasks_rank" in plan and "TEMP B-TREE" not in plan, plan


def test_fts_for_sentiment_finds_finbert(p0):
    ids = [c["id"] for c in p0.search("sentiment", limit=10)]
    assert "ProsusAI/finbert" in ids
    assert all("sentiment" in (p0.get(i)["description"] + i + " ".join(p0.get(i)["tags"])).lower()
               for i in ids)


def test_fts_ranks_id_matches_and_filters_by_task(p0):
    assert p0.search("finbert", limit=3)[0]["id"] == "ProsusAI/finbert"
    asr = p0.search("german", task="automatic-speech-recognition", limit=20)
    assert asr and all("automatic-speech-recognition" in p0.get(c["id"])["tasks"] for c in asr)


def test_fts_falls_back_to_any_word_and_survives_syntax(p0):
    assert p0.search("sentiment zzzunknownword", limit=5)  # no card has both: any word may match
    assert isinstance(p0.search('"unbalanced AND (OR NEAR(', limit=5), list)  # FTS syntax is quoted away
    assert p0.search("   ") == []


NASTY_QUERIES = ['"', "*", "a AND", "(", "-x", "task:", "AND", "NOT x", "NEAR(a b)", "x OR", '"a" "b', "**",
                 "a*b", "...", "_", "col:word", "^x", "{a b}", "+", "'", "\\", "\x00", "日本語", "a" * 2000]


@pytest.mark.parametrize("task", [None, "text-classification", "no-such-task"])
def test_fts_never_raises_on_query_text(p0, task):
    for query in NASTY_QUERIES:
        found = p0.search(query, task=task, limit=5)
        assert isinstance(found, list), query
        assert not task or all(task in p0.get(c["id"])["tasks"] for c in found), query


def test_fts_within_a_task_whose_name_is_fts_syntax(tmp_path):
    """Task names come from cards (a synced Hub or an imported file): a quote or an
    operator in one must not break the search within it."""
    catalog = Catalog(tmp_path / "c.db")
    odd = 'we"ird (task) -x'
    catalog.upsert([{"id": "o/odd", "pipeline_tag": odd, "description": "an okapi model"},
                    {"id": "o/plain", "pipeline_tag": "fill-mask", "description": "an okapi model"}])
    assert [c["id"] for c in catalog.search("okapi", task=odd)] == ["o/odd"]
    assert [c["id"] for c in catalog.search('okapi "', task=odd)] == ["o/odd"]


def test_get_decodes_lists_and_cleans_markup(p0):
    card = p0.get("ProsusAI/finbert")
    assert card["tags"] == ["financial-sentiment-analysis", "sentiment-analysis"]
    assert card["languages"] == ["en"] and card["tasks"] == ["text-classification"]
    assert "](" not in card["description"] and "https://" not in card["description"]
    assert card["description"].startswith("FinBERT is a pre-trained NLP model")
    assert p0.get("no/such-model") is None


def test_search_index_follows_updates_deletes_and_popularity_changes(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    catalog.upsert([{"id": f"o/m{i}", "pipeline_tag": "fill-mask", "downloads": i,
                     "description": f"walrus model {i}"} for i in range(50)])
    fts_rows = lambda: catalog.connect().execute("SELECT count(*) FROM models_fts").fetchone()[0]  # noqa: E731
    assert fts_rows() == 50
    catalog.upsert([{"id": "o/m3", "downloads": 5_000_000}])  # crosses many popularity buckets
    catalog.upsert([{"id": "o/m4", "description": "narwhal model"}])
    catalog.upsert([{"id": "o/m5", "downloads": 6}])  # same bucket: no re-keying needed
    assert catalog.search("walrus", limit=1)[0]["id"] == "o/m3"  # most popular first
    assert [c["id"] for c in catalog.search("narwhal")] == ["o/m4"]
    assert "o/m4" not in [c["id"] for c in catalog.search("walrus", limit=100)]
    ids = [c["id"] for c in catalog.search("walrus", limit=100)]
    assert len(ids) == len(set(ids)) == 49
    with catalog.transaction() as conn:
        conn.execute("DELETE FROM models WHERE id = 'o/m3'")
    assert "o/m3" not in [c["id"] for c in catalog.search("walrus", limit=100)] and fts_rows() == 49
    catalog.connect().execute("INSERT INTO models_fts (models_fts) VALUES ('integrity-check')")


def test_later_migrations_index_cards_written_before_them(tmp_path):
    """A catalog at migration 3 (sqlite-utils' external-content FTS) moves to the
    popularity-keyed index with the task token, every existing card searchable."""
    path = tmp_path / "c.db"
    conn = sqlite3.connect(path, isolation_level=None)
    catalog_migrations.apply(conn, until=3)
    conn.execute("INSERT INTO models (id, task, downloads, description) VALUES "
                 "('a/old', 'fill-mask', 10, 'an okapi model')")
    conn.close()
    catalog = Catalog(path)
    assert catalog_migrations.applied(catalog.connect())[-2:] == [4, 5]
    assert [c["id"] for c in catalog.search("okapi")] == ["a/old"]
    assert [c["id"] for c in catalog.search("okapi", task="fill-mask")] == ["a/old"]
    assert catalog.search("okapi", task="translation") == []


def test_search_within_a_task_finds_primary_and_second_tasks(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    catalog.upsert([{"id": f"o/cap{i}", "pipeline_tag": "image-to-text", "downloads": 100 + i,
                     "description": "a heron captioner"} for i in range(30)])
    catalog.upsert([{"id": "o/cls", "pipeline_tag": "image-classification", "downloads": 1,
                     "description": "a heron classifier"},
                    {"id": "o/both", "tasks": ["image-to-text", "image-classification"], "downloads": 5,
                     "description": "a heron model for both"}])
    found = {c["id"] for c in catalog.search("heron", task="image-classification")}
    assert found == {"o/cls", "o/both"}
    assert len(catalog.search("heron", task="image-to-text", limit=50)) == 31
    catalog.upsert([{"id": "o/cap0", "pipeline_tag": "image-classification"}])  # its primary task changes
    assert "o/cap0" in {c["id"] for c in catalog.search("heron", task="image-classification")}
    assert "o/cap0" in {c["id"] for c in catalog.search("heron", task="image-to-text", limit=50)}
    assert set(catalog.get("o/cap0")["tasks"]) == {"image-classification", "image-to-text"}


# -- upsert semantics ----------------------------------------------------------------
def test_upsert_keeps_fields_the_new_source_does_not_know(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    catalog.upsert([{"id": "o/m", "tasks": ["image-classification", "image-to-text"], "downloads": 5,
                     "installed": True, "installed_path": "/models/o-m", "description": "Local card."}])
    catalog.upsert([{"id": "o/m", "pipeline_tag": "image-classification", "downloads": 900,
                     "cardData": {"license": "mit"}}], source="hub")
    card = catalog.get("o/m")
    assert card["downloads"] == 900 and card["licence"] == "mit"
    assert card["installed"] and card["installed_path"] == "/models/o-m"
    assert card["description"] == "Local card."
    assert set(card["tasks"]) == {"image-classification", "image-to-text"}
    # the copy of downloads in model_tasks follows, so both tasks rank it by 900
    assert catalog.top_k("image-to-text")[0]["downloads"] == 900


# -- damaged files -------------------------------------------------------------------
def test_a_file_that_is_not_a_database_is_reported_with_the_fix(tmp_path):
    path = tmp_path / "catalog.db"
    path.write_text("this is not a database, just text " * 20)
    with pytest.raises(CatalogCorruptError, match="hgpt catalog rebuild") as info:
        Catalog(path)
    assert "not a database" in str(info.value)
    assert isinstance(info.value, sqlite3.DatabaseError)


def _damage(path):
    """Overwrite pages in the middle of a real catalog file with garbage."""
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(page * 3, min(len(data), page * 12), page):
        data[start + 8: start + page - 8] = bytes((i * 37) % 251 for i in range(page - 16))
    path.write_bytes(bytes(data))


def test_damaged_pages_are_found_at_open_and_rebuild_moves_the_file_aside(p0_path, hgpt_home, settings):
    catalog = Catalog(settings.catalog_path)
    import_file(catalog, p0_path)
    catalog.close()  # the last connection checkpoints the WAL into the file
    _damage(settings.catalog_path)
    damaged = settings.catalog_path.read_bytes()
    with pytest.raises(CatalogCorruptError, match="hgpt catalog rebuild"):
        Catalog(settings.catalog_path)

    history = sqlite3.connect(settings.db_path)  # chat history lives in another file
    history.executescript("CREATE TABLE chats (text TEXT); INSERT INTO chats VALUES ('hello');")
    history.close()
    before = hashlib.sha256(settings.db_path.read_bytes()).hexdigest()

    aside, fresh = rebuild_catalog(settings.catalog_path, cache_dir=hgpt_home / "no-cache", lock_files=[])
    assert aside is not None and aside.read_bytes() == damaged and ".broken-" in aside.name
    assert fresh.count() == 0 and fresh.top_k("image-classification") == []
    fresh.upsert([{"id": "a/b", "pipeline_tag": "fill-mask"}])
    assert fresh.get("a/b")["task"] == "fill-mask"
    assert hashlib.sha256(settings.db_path.read_bytes()).hexdigest() == before


def test_rebuild_without_a_file_just_builds(tmp_path):
    aside, catalog = rebuild_catalog(tmp_path / "new.db", cache_dir=tmp_path / "none", lock_files=[])
    assert aside is None and catalog.count() == 0


# -- readers during an import (WAL) --------------------------------------------------
def _synthetic_jsonl(path, n):
    tasks = ["image-classification", "text-classification", "summarization"]
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"org{i % 97}/model-{i}", "pipeline_tag": tasks[i % 3],
                                "downloads": (i * 7919) % 100_000, "likes": i % 50,
                                "description": f"Model number {i} for {tasks[i % 3]}, trained on data."}) + "\n")


def test_readers_keep_answering_while_an_import_writes(p0, tmp_path):
    source = tmp_path / "big.jsonl"
    _synthetic_jsonl(source, 30_000)
    catalog = Catalog(tmp_path / "wal.db")
    catalog.upsert([{"id": "seed/model", "pipeline_tag": "image-classification", "downloads": 1}])
    assert catalog.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    done, seen, errors = threading.Event(), [], []

    def reader():
        while not done.is_set():
            try:
                seen.append((time.perf_counter(), catalog.count()))
                assert catalog.top_k("image-classification", 5)
                catalog.search("trained", limit=3)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    started = time.perf_counter()
    report = import_file(catalog, source, batch=1000)
    finished = time.perf_counter()
    done.set()
    thread.join()
    assert not errors, errors
    assert report.imported == 30_000
    during = [n for t, n in seen if started <= t <= finished]
    assert len(during) >= 5, "the reader was blocked during the import"
    assert during == sorted(during) and len(set(during)) >= 2  # it saw the catalog grow
    assert catalog.count() == 30_001
