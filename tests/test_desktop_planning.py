"""Settings' Planning section measures the controller in use as ``hgpt calibrate`` does, shows
its progress and verdict, and Stop keeps nothing (pytest-qt, a real Engine whose controller
writes the plans the test gives)."""

from __future__ import annotations

import json

from engine.plan.calibration import load_verdicts
from engine.session import Engine
from engine.testing import PlanWriter

CASES = [{"id": f"odd-{n}", "request": f"What animal is in {name}?", "files": {name: "image"},
          "must": ["depth-estimation"], "links": [], "allow": None, "empty_ok": False}
         for n, name in enumerate(["pet.jpg", "yard.png", "zoo.jpg"])]


def box_over(qtbot, engine, checks):
    from desktop.qt_planning import PlanningBox

    box = PlanningBox(lambda cancel: engine.calibrate(checks, cancel), lambda: engine.settings.planning_file)
    qtbot.addWidget(box)
    box.show()
    return box


def test_measure_planning_shows_progress_and_keeps_the_verdict(qtbot, settings, tmp_path):
    checks = tmp_path / "checks.jsonl"
    checks.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    writer = PlanWriter({c["request"]: [{"id": 0, "task": "depth-estimation", "args": {"image": name}}]
                         for c in CASES for name in c["files"]})
    engine = Engine(settings, controller=writer)
    box = box_over(qtbot, engine, str(checks))
    assert box.verdicts.text().startswith("No controller measured yet")
    box.button.click()
    assert box.button.text() == "Stop"
    qtbot.waitUntil(lambda: box.worker is None, timeout=60_000)
    assert box.progress.text() == "Measured: its own plans run from now on."
    assert "right where the rails were wrong 3" in box.verdicts.text()
    assert box.button.text() == "Measure planning"
    assert load_verdicts(settings.planning_file)["plan-writer"].preferred
    assert engine.planner.options.draft == "prefer"


def test_stop_ends_the_measurement_and_keeps_nothing(qtbot, settings):
    from desktop.qt_planning import PlanningBox

    engine = Engine(settings, controller=PlanWriter())

    def slow(cancel):  # the shipped requests, each planned as slowly as a big controller would
        for event in engine.calibrate(None, cancel):
            yield event
            cancel.wait(30)

    box = PlanningBox(slow, lambda: settings.planning_file)
    qtbot.addWidget(box)
    box.button.click()
    qtbot.waitUntil(lambda: box.progress.text().startswith("Planned 1 of 80 labelled requests"), timeout=60_000)
    box.button.click()
    qtbot.waitUntil(lambda: box.worker is None, timeout=60_000)
    assert box.progress.text() == "Stopped: nothing was kept."
    assert not settings.planning_file.exists()
    assert box.verdicts.text().startswith("No controller measured yet")


def test_the_window_s_settings_hold_the_planning_section(make_window):
    window = make_window()
    assert window.planning_box.parent() is not None
    assert window.planning_box.button.accessibleName() == "Measure planning"


def test_the_plan_panel_says_when_the_controller_wrote_the_plan(make_window, qtbot):
    """A controller that writes every plan itself (here a scripted one, as a server would be)
    is named in the plan panel's header; the run record keeps whose plan ran and why."""
    from desktop_support import send, task

    window = make_window([json.dumps([task(0, "translation", {"text": "hola"})]), "HOLA it is."])
    send(qtbot, window, "translate hola")
    assert window.plan.written.isVisible()
    assert window.plan.written.text() == "The controller wrote the plan."
    record = json.loads((window.settings.runs_dir / window.store.runs(window.conversation_id)[-1].id
                         / "run.json").read_text())
    assert record["planned_by"] == {"writer": "draft", "why": "the controller wrote the plan"}
