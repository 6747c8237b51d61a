"""The window's "Re-run from here" (the review editor on a finished run, the cached badge)
and File → Export / Import, under pytest-qt with the window of the ``make_window`` fixture
and the experts of desktop_support.py (a scripted controller, small in-test experts doing
real work, a real history)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QToolButton

from desktop_support import CHELSEA, SHOWCASE_PLAN, send

SHOWCASE = "What animal is in chelsea.png? Then say the answer out loud."


def _run_showcase(make_window, qtbot, *more):
    window = make_window([SHOWCASE_PLAN, "It is a cat.", *more])
    send(qtbot, window, SHOWCASE, [CHELSEA])
    return window


def test_rerun_from_here_edits_the_node_and_badges_the_kept_task(make_window, qtbot):
    window = _run_showcase(make_window, qtbot, "Said it again.")
    first = window.store.runs()[0]
    assert window.plan.run_id == first.id
    assert not window.plan.rerun_button.isEnabled()  # no task selected yet
    window.plan.select(1)
    assert window.plan.rerun_button.isEnabled()
    window.plan.rerun_button.click()
    assert window.review.isVisible() and "Re-run from task 1" in window.review.title.text()
    editors = window.review.editors
    assert [e.arg_edits.get("text", None) and e.arg_edits["text"].text() for e in editors] == [None, "<resource>-0"]
    assert editors[1].model_box.currentText() == "test/tone"  # the recorded model
    editors[1].arg_edits["text"].setText("hello there")
    window.review.change_arg(1, "text", "hello there")
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.review.run_button.click()
    assert not window.review.isVisible() and window.review.title.text() == window.carry.default_title
    # only the re-run task started (a TaskStarted puts its arguments in the record)
    started = [k for k, info in window.plan.view.record.tasks.items() if "args" in info]
    assert started == ["1"] and window.plan.view.record.tasks["0"]["cached"] is True
    nodes = window.plan.graph.items_by_id
    assert nodes[0].node.cached and not nodes[1].node.cached
    assert "cached" in nodes[0].toolTip()
    assert not window.plan.graph.grab().isNull()  # the badge paints
    runs = window.store.runs()
    assert len(runs) == 2 and runs[1].conversation_id == runs[0].conversation_id
    assert runs[1].results["1"]["text"] == "spoke 11 characters"
    record = json.loads((Path(runs[1].run_dir) / "run.json").read_text())
    assert record["origin"]["from_task"] == 1 and record["origin"]["changes"]["args"] == {"1": {"text": "hello there"}}


def test_context_menu_request_cancel_and_a_changed_plan_are_refused(make_window, qtbot):
    from PySide6.QtWidgets import QToolButton as Button

    window = _run_showcase(make_window, qtbot)
    item = window.plan.graph.items_by_id[0]
    assert item.rerunnable
    item.rerun.emit(0)  # what its context menu's "Re-run from here…" does
    assert window.review.isVisible() and "Re-run from task 0" in window.review.title.text()
    window.review.cancel_button.click()  # closing the editor runs nothing
    assert window.carry.pending is None and window.worker is None and len(window.store.runs()) == 1
    window.carry.rerun_from(0)
    delete = [b for b in window.review.editors[1].findChildren(Button) if b.text() == "Delete task"][0]
    delete.click()
    window.review.run_button.click()
    assert window.worker is None
    assert any("a re-run keeps the plan's tasks" in b.text() for b in _banner_texts(window))
    assert QToolButton is Button


def _banner_texts(window):
    from PySide6.QtWidgets import QLabel

    return [label for banner in window.chat.banners() for label in banner.findChildren(QLabel)]


def test_export_and_import_from_the_window(make_window, qtbot, tmp_path):
    window = _run_showcase(make_window, qtbot)
    menu = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    assert menu["&Export chat as Markdown…"].shortcut().toString() == "Ctrl+E"
    assert "Export chat as &JSON…" in menu and "&Import chat…" in menu
    window.carry.export("md", str(tmp_path / "md"))
    qtbot.waitUntil(lambda: any("Exported to" in b.text() for b in _banner_texts(window)), timeout=30_000)
    [md] = list((tmp_path / "md").glob("*.md"))
    assert "chelsea.png" in md.read_text() and (tmp_path / "md" / f"{md.stem}-files").is_dir()
    window.carry.export("json", str(tmp_path / "js"))
    qtbot.waitUntil(lambda: bool(list((tmp_path / "js").glob("*.json"))), timeout=30_000)
    [exported] = list((tmp_path / "js").glob("*.json"))
    window.carry.import_(str(exported))
    qtbot.waitUntil(lambda: len(window.store.conversations()) == 2 and
                    window.conversation_id == window.store.conversations()[0].id, timeout=30_000)
    imported = window.store.conversations()[0]
    assert [m.role for m in window.store.messages(imported.id)] == ["user", "assistant"]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    window.carry.import_(str(bad))
    qtbot.waitUntil(lambda: any("not an hgpt chat export" in b.text() for b in _banner_texts(window)), timeout=30_000)


def test_rerun_of_a_run_changed_on_disk_says_why_in_a_banner_and_runs_nothing(make_window, qtbot):
    import shutil

    window = _run_showcase(make_window, qtbot)
    first = window.store.runs()[0]
    # its input deleted while the editor is open: Run says why, and nothing is recorded
    assert window.carry.rerun_from(1)
    (Path(first.run_dir) / "inputs" / "chelsea.png").unlink()
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.review.run_button.click()
    qtbot.waitUntil(lambda: any("input chelsea.png was deleted" in b.text() for b in _banner_texts(window)),
                    timeout=30_000)
    assert [r.id for r in window.store.runs()] == [first.id] and window.worker is None
    # its folder deleted: the editor does not open, the banner says so
    shutil.rmtree(first.run_dir)
    window.plan.select(1)
    window.plan.rerun_button.click()
    assert not window.review.isVisible() and window.carry.pending is None
    assert any(f"folder {first.run_dir} was deleted" in b.text() for b in _banner_texts(window))
    assert [r.id for r in window.store.runs()] == [first.id]
