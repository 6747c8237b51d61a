"""``hgpt catalog …`` through the real entry point, on a catalog in the test's HGPT_HOME."""

from __future__ import annotations

import gc
import json

import pytest

from engine.cli import main


@pytest.fixture
def p0_file(shared_dir):
    return str(shared_dir / "catalog" / "p0_models.jsonl")


@pytest.fixture
def imported(p0_file, capsys):
    assert main(["catalog", "import", p0_file]) == 0
    capsys.readouterr()


def test_import_prints_a_summary(p0_file, capsys):
    assert main(["catalog", "import", p0_file]) == 0
    assert "imported 673 cards from" in capsys.readouterr().out


def test_import_reports_bad_lines_and_refuses_a_file_with_nothing_usable(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n{\"id\": \"a/b\", \"pipeline_tag\": \"fill-mask\"}\n[]\n")
    assert main(["catalog", "import", str(bad)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 cards" in out and "line 1: not JSON" in out and "line 3:" in out
    worse = tmp_path / "worse.jsonl"
    worse.write_text("nope\n")
    assert main(["catalog", "import", str(worse)]) == 2
    assert "nothing was imported" in capsys.readouterr().err
    assert main(["catalog", "import", str(tmp_path / "absent.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_search_table_and_json(imported, capsys):
    assert main(["catalog", "search", "sentiment", "--limit", "10"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["ID", "TASK", "DOWNLOADS"] and "ProsusAI/finbert" in out
    assert main(["catalog", "search", "german", "--task", "automatic-speech-recognition", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert cards and all(c["task"] == "automatic-speech-recognition" for c in cards)
    assert main(["catalog", "search", "qqqzzzxxx"]) == 0
    assert "no model matches" in capsys.readouterr().out


def test_show_and_a_helpful_miss(imported, capsys):
    assert main(["catalog", "show", "ProsusAI/finbert", "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["task"] == "text-classification" and card["downloads"] == 1677372
    assert main(["catalog", "show", "finbert"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "similar: ProsusAI/finbert" in err and "hgpt catalog search" in err


def test_top_is_what_selection_sees(imported, capsys):
    assert main(["catalog", "top", "image-classification", "-n", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "timm/vit_large_patch14_clip_224.openai_ft_in12k_in1k"
    assert main(["catalog", "top", "image-classification", "--limit", "0"]) == 2


def test_stats(imported, capsys):
    assert main(["catalog", "stats", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["models"] >= 673 and info["by_task"]["text-to-video"] == 8 and info["size_bytes"] > 0
    assert main(["catalog", "stats"]) == 0
    out = capsys.readouterr().out
    assert "models in" in out and "text-to-video" in out and "migrations applied: 1, 2, 3, 4, 5" in out


def test_a_damaged_catalog_says_rebuild_and_rebuild_fixes_it(imported, settings, capsys):
    # The import's connections are closed first: a sqlite3 connection sits in a reference
    # cycle (its statement cache), so one left open is closed by a later garbage
    # collection, which would checkpoint its WAL over the garbage written here.
    gc.collect()
    settings.catalog_path.write_bytes(b"garbage, not SQLite" * 100)
    for name in ("-wal", "-shm"):
        settings.catalog_path.with_name(settings.catalog_path.name + name).unlink(missing_ok=True)
    assert main(["catalog", "stats"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Run: hgpt catalog rebuild" in err
    assert main(["catalog", "rebuild"]) == 0
    out = capsys.readouterr().out
    assert "moved the old catalog to" in out and "rebuilt" in out
    aside = [p for p in settings.catalog_path.parent.iterdir() if ".broken-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"garbage")
    assert main(["catalog", "stats", "--json"]) == 0


def test_the_engine_selects_from_a_fresh_catalog_offline(settings):
    """First start: the catalog is built from the registered experts, so selection works."""
    from engine.session import Engine
    from engine.plan.graph import Task
    from engine.select import candidates_for

    engine = Engine(settings)
    registry, catalog = engine.registry, engine.catalog
    for expert in registry:
        card = catalog.get(expert.model_id)
        assert card is not None and card["installed"] == (expert.missing() is None)
    task_name = sorted(registry.tasks())[0]
    cards = candidates_for(Task(1, task_name, [-1], {"text": "x"}), registry, catalog, 5)
    assert cards and {c["id"] for c in cards} <= {e.model_id for e in registry.for_task(task_name)}
