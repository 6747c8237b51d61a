"""Importing card files: both layouts, malformed lines, markup cleaning, bulk loads."""

from __future__ import annotations

import json
import threading

import pytest

from engine.catalog import Catalog, clean_description
from engine.catalog.cards import CardError, normalize
from engine.catalog.importer import import_file
from engine.errors import UserInputError

HUB_RECORD = {  # one model as GET /api/models?full=true&cardData=true answers it
    "_id": "621ffdc136468d709f17b7a6", "id": "openai/whisper-tiny", "modelId": "openai/whisper-tiny",
    "likes": 300, "downloads": 850000, "private": False, "pipeline_tag": "automatic-speech-recognition",
    "library_name": "transformers", "tags": ["transformers", "pytorch", "whisper", "audio", "en",
                                             "license:apache-2.0", "region:us"],
    "createdAt": "2022-09-26T06:50:30.000Z", "lastModified": "2024-02-29T10:57:33.000Z",
    "sha": "169d4a4341b33bc18d8881c4b69c2e104e1cc0af",
    "cardData": {"language": ["en", "de"], "license": "apache-2.0", "tags": ["audio", "hf-asr-leaderboard"]},
    "safetensors": {"parameters": {"F32": 37760640}, "total": 37760640},
    "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}],
}


def test_hub_list_models_records_are_normalized():
    row = normalize(HUB_RECORD, "hub")
    assert row["id"] == "openai/whisper-tiny" and row["task"] == "automatic-speech-recognition"
    assert row["downloads"] == 850000 and row["likes"] == 300
    assert row["library"] == "transformers" and row["runtime"] == "transformers"
    assert row["licence"] == "apache-2.0" and json.loads(row["languages"]) == ["en", "de"]
    assert "hf-asr-leaderboard" in json.loads(row["tags"]) and "region:us" in json.loads(row["tags"])
    assert row["size_mb"] == pytest.approx(151.0, abs=0.1)  # 37.76 M float32 parameters
    assert row["last_modified"] == "2024-02-29T10:57:33.000Z" and row["sha"].startswith("169d4a")
    assert row["installed"] is None and row["description"] is None  # unknown: kept on upsert


def test_model_id_alone_and_licence_from_tags():
    row = normalize({"modelId": "a/b", "tags": ["license:mit"], "pipeline_tag": "fill-mask"})
    assert row["id"] == "a/b" and row["licence"] == "mit"


@pytest.mark.parametrize("record, why", [
    ({"downloads": 3}, "no model id"),
    ({"id": ""}, "no model id"),
    ({"id": "a/b", "downloads": "many"}, "'downloads' should be a number"),
    ({"id": "a/b", "pipeline_tag": ["x"]}, "'pipeline_tag' should be text"),
    (["a", "b"], "expected a JSON object"),
])
def test_unusable_records_say_why(record, why):
    with pytest.raises(CardError, match=why):
        normalize(record)


def test_malformed_lines_are_reported_with_line_numbers_and_the_rest_imported(tmp_path):
    good = [{"id": f"org/m{i}", "pipeline_tag": "text-classification", "downloads": i} for i in range(5)]
    lines = [json.dumps(good[0]), "{not json", json.dumps(good[1]), "", json.dumps({"downloads": 1}),
             json.dumps(good[2]), "[1, 2]", json.dumps({"id": "org/bad", "likes": "lots"}),
             json.dumps(good[3]), json.dumps(HUB_RECORD), json.dumps(good[4])]
    path = tmp_path / "cards.jsonl"
    path.write_text("\n".join(lines) + "\n")
    catalog = Catalog(tmp_path / "c.db")
    report = import_file(catalog, path)
    assert report.imported == 6 and catalog.count() == 6
    assert [n for n, _ in report.skipped] == [2, 5, 7, 8]
    reasons = dict(report.skipped)
    assert reasons[2].startswith("not JSON") and "no model id" in reasons[5]
    assert "expected a JSON object" in reasons[7] and "'likes' should be a number" in reasons[8]
    text = report.summary()
    assert "imported 6 cards" in text and "line 2: not JSON" in text and "line 8:" in text


def test_a_json_array_from_the_hub_api_imports(tmp_path):
    records = [HUB_RECORD | {"id": f"openai/whisper-{i}", "modelId": f"openai/whisper-{i}",
                             "downloads": 1000 - i} for i in range(4)] + ["oops"]
    path = tmp_path / "models.json"
    path.write_text(json.dumps(records, indent=1))
    catalog = Catalog(tmp_path / "c.db")
    report = import_file(catalog, path)
    assert report.layout == "json" and report.imported == 4 and report.skipped[0][0] == 5
    assert "item 5" in report.summary()
    assert [c["id"] for c in catalog.top_k("automatic-speech-recognition", 2)] == [
        "openai/whisper-0", "openai/whisper-1"]
    assert catalog.search("leaderboard", limit=5)  # tags from cardData are searchable


def test_missing_or_broken_files_say_what_to_do(tmp_path):
    catalog = Catalog(tmp_path / "c.db")
    with pytest.raises(UserInputError, match="does not exist"):
        import_file(catalog, tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.json"
    bad.write_text("[{\"id\": 1,")
    with pytest.raises(UserInputError, match="not valid JSON"):
        import_file(catalog, bad)


def test_reimport_updates_in_place(tmp_path, shared_dir):
    p0 = shared_dir / "catalog" / "p0_models.jsonl"
    catalog = Catalog(tmp_path / "c.db")
    import_file(catalog, p0)
    import_file(catalog, p0)
    assert catalog.count() == 673
    assert catalog.connect().execute("SELECT count(*) FROM models_fts").fetchone()[0] == 673
    assert catalog.connect().execute("SELECT count(*) FROM model_tasks").fetchone()[0] == 673


def test_bulk_import_rebuilds_indexes_and_readers_see_old_then_new(tmp_path, shared_dir):
    """A bulk load is one transaction: readers never block and never see half of it."""
    catalog = Catalog(tmp_path / "c.db")
    catalog.upsert([{"id": "seed/model", "pipeline_tag": "text-classification", "downloads": 10**9,
                     "description": "seed sentiment model"}])
    indexes = {r[0] for r in catalog.connect().execute("SELECT name FROM sqlite_master")}
    counts, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            counts.append(catalog.count())
            assert catalog.top_k("text-classification", 1)[0]["id"] == "seed/model"

    thread = threading.Thread(target=reader)
    thread.start()
    report = import_file(catalog, shared_dir / "catalog" / "p0_models.jsonl", bulk=True, batch=100)
    stop.set()
    thread.join()
    assert report.imported == 673
    assert set(counts) <= {1, 674} and 1 in counts  # old state, then (maybe) the whole import
    assert {r[0] for r in catalog.connect().execute("SELECT name FROM sqlite_master")} == indexes
    assert "ProsusAI/finbert" in [c["id"] for c in catalog.search("sentiment", limit=10)]
    catalog.upsert([{"id": "late/one", "pipeline_tag": "fill-mask", "description": "zebra words"}])
    assert catalog.search("zebra")[0]["id"] == "late/one"  # the FTS triggers are back


def test_clean_description_removes_markup_but_keeps_words():
    card = """---
license: mit
tags: [x]
---
# My Model
<!-- hidden note -->
[![badge](https://img.shields.io/x.svg)](https://ci) See the [paper](https://arxiv.org/abs/1(2)) and <https://site.org>.
**Bold** and _emphasis_ but snake_case_name stays; C# too.
| col | other |
|-----|-------|
| 1   | 2     |
```python
from x import y
```
<p align="center">Tom &amp; Jerry</p>
- a list item
"""
    text = clean_description(card)
    assert text == ("My Model See the paper and . Bold and emphasis but snake_case_name stays; C# too. "
                    "col other 1 2 Tom & Jerry a list item")
    assert clean_description(card, 20) == "My Model See the…"
    assert clean_description("") == ""
