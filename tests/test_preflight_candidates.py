"""Selection's candidates that can be fetched, and running without them.

Online, selection's top-K holds catalog models that are not installed but can be pulled
(a Hub id with a runtime hgpt serves) beside the installed ones, and the controller
chooses among them; offline, only installed models. When the controller chooses one that
is not downloaded, ``hgpt ask`` stops before execution saying what to run, and running
without the download gives the task the best installed candidate. ``hgpt plan --online``
shows the same in its pre-flight. A real SQLite catalog throughout; the experts are small
in-test ones (the code around models), the controller scripted, nothing is downloaded.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from engine import events as ev
from engine.catalog import open_catalog
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.ondemand import PendingExpert, source_for
from engine.plan.graph import Plan, Task
from engine.plan.planner import PlanTrace
from engine.select import candidates_for
from engine.session import Engine
from engine.testing import ScriptedController, collect, scripted_planner

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
TASK = "image-classification"
PULLABLE = "acme/vit-huge"
CARDS = [{"id": PULLABLE, "pipeline_tag": TASK, "downloads": 90_000, "library_name": "transformers", "size_mb": 330,
          "description": "a vision transformer"},
         {"id": "acme/keras-net", "pipeline_tag": TASK, "downloads": 500_000, "library_name": "keras"},
         {"id": "acme/no-library", "pipeline_tag": TASK, "downloads": 400_000},
         {"id": "acme/vit-small", "pipeline_tag": TASK, "downloads": 50, "library_name": "transformers"}]


class Classifier(Expert):
    """An installed image classifier (10 MB) that names what it ran as."""

    tasks = (TASK,)
    downloads = 1_000

    def __init__(self, model_id="local/classifier"):
        super().__init__()
        self.model_id = model_id

    def footprint_mb(self):
        return 10.0

    def run(self, task, args, ctx):
        return ExpertResult(text=f"{self.model_id}: tiger cat", data={"labels": [{"label": "tiger cat"}]})


def catalog_with_cards(settings, registry):
    catalog = open_catalog(settings.catalog_path, registry)
    catalog.upsert(CARDS)
    return catalog


def ids(cards):
    return [(c["id"], c.get("installed", True) is not False) for c in cards]


def test_online_candidates_add_pullable_models_offline_only_installed_ones(settings):
    registry = ExpertRegistry([Classifier()])
    catalog = catalog_with_cards(settings, registry)
    task = Task(0, TASK, [-1], {"image": "chelsea.png"})
    offline = source_for(settings.with_(offline=True), catalog).source
    assert offline is None
    assert ids(candidates_for(task, registry, catalog, 5, source=offline)) == [("local/classifier", True)]
    online = source_for(settings.with_(offline=False), catalog).source
    cards = candidates_for(task, registry, catalog, 5, source=online)
    # by downloads; a Keras model or one of unknown library cannot be pulled and run here
    assert ids(cards) == [(PULLABLE, False), ("local/classifier", True), ("acme/vit-small", False)]
    assert cards[0]["fetch"] is True and cards[0]["size_mb"] == 330
    assert isinstance(online.expert(PULLABLE, cards[0], TASK, registry), PendingExpert)
    assert online.expert("local/classifier", cards[1], TASK, registry) is registry.get("local/classifier")
    # with K=1 the best installed model still stays a candidate
    assert ids(candidates_for(task, registry, catalog, 1, source=online)) == [("local/classifier", True)]


def engine_choosing_the_pullable_model(settings, offline=False):
    plan = json.dumps([{"task": TASK, "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}])
    choice = json.dumps({"id": PULLABLE, "reason": "the larger model"})
    controller = ScriptedController([plan] + ([] if offline else [choice]) + ["It is a tiger cat."])
    settings = settings.with_(offline=offline)
    registry = ExpertRegistry([Classifier()], settings=settings)
    return Engine(settings, controller=controller, registry=registry, catalog=catalog_with_cards(settings, registry),
                  planner=scripted_planner(controller)), controller


def test_the_controller_chooses_among_fetchable_candidates_and_ask_stops_saying_what_to_run(settings):
    engine, controller = engine_choosing_the_pullable_model(settings)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="stop"))
    chosen = next(e for e in events if isinstance(e, ev.ModelSelected))
    assert chosen.model_id == PULLABLE and chosen.reason == "the larger model"
    assert ids(chosen.candidates) == [(PULLABLE, False), ("local/classifier", True), ("acme/vit-small", False)]
    assert PULLABLE in json.dumps(controller.calls[1]["messages"])  # the controller saw it among the models
    check = next(e for e in events if isinstance(e, ev.PreflightReady))
    row = check.tasks[0]
    assert (row["verdict"], row["download_mb"], row["installed"]) == ("download", 330, False)
    failed = events[-1]
    assert isinstance(failed, ev.RunFailed) and failed.stage == "preflight"
    assert f"Run: hgpt models pull {PULLABLE} --online" in failed.error
    assert not any(isinstance(e, ev.TaskStarted) for e in events)


def test_running_without_the_download_gives_the_task_the_best_installed_candidate(settings):
    engine, _ = engine_choosing_the_pullable_model(settings)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="run"))
    selected = [e for e in events if isinstance(e, ev.ModelSelected)]
    assert [e.model_id for e in selected] == [PULLABLE, "local/classifier"]
    assert f"{PULLABLE} is not downloaded" in selected[1].reason
    checks = [e for e in events if isinstance(e, ev.PreflightReady)]
    assert [c.tasks[0]["verdict"] for c in checks] == ["download", "runs"]
    finished = next(e for e in events if isinstance(e, ev.TaskFinished))
    assert finished.model_id == "local/classifier" and isinstance(events[-1], ev.AnswerDone)
    assert events[-1].record["preflight"]["tasks"][0]["verdict"] == "runs"


def test_answering_run_to_the_question_does_the_same(settings):
    engine, _ = engine_choosing_the_pullable_model(settings)
    stream = engine.run("what animal is this?", [CHELSEA], missing="ask")
    event = next(stream)
    while not (isinstance(event, ev.PreflightReady) and event.asks):
        event = stream.send(None)
    rest = [stream.send("run")] + list(stream)
    assert next(e for e in rest if isinstance(e, ev.TaskFinished)).model_id == "local/classifier"


def test_offline_only_installed_models_are_candidates_and_nothing_is_asked(settings):
    engine, controller = engine_choosing_the_pullable_model(settings, offline=True)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="stop"))
    chosen = next(e for e in events if isinstance(e, ev.ModelSelected))
    assert chosen.model_id == "local/classifier" and ids(chosen.candidates) == [("local/classifier", True)]
    assert next(e for e in events if isinstance(e, ev.PreflightReady)).tasks[0]["verdict"] == "runs"
    assert isinstance(events[-1], ev.AnswerDone) and len(controller.calls) == 2  # the plan and the answer


def test_hgpt_plan_online_shows_the_fetchable_model_in_its_preflight(settings, monkeypatch):
    from engine.cli import plan as plan_cli

    catalog = open_catalog(settings.catalog_path, ExpertRegistry())
    catalog.upsert([CARDS[0] | {"downloads": 10**9}])  # above any installed classifier
    catalog.close()
    planned = Plan([Task(0, TASK, [-1], {"image": "chelsea.png"})], [], "")
    monkeypatch.setattr(Engine, "plan_only", lambda self, request, attachments: (planned, 0.1, PlanTrace()))

    def plan(*flags):
        out = io.StringIO()
        args = argparse.Namespace(request="what animal is this?", attach=[str(CHELSEA)], json=False, controller=None,
                                  chat_format=None, threads=None, online="--online" in flags)
        assert plan_cli.run(args, out) == 0
        return out.getvalue()

    offline = plan()
    assert "pre-flight (likely models)" in offline and PULLABLE not in offline
    assert f"[0] {TASK} → " in offline and ": runs" in offline
    online = plan("--online")
    assert f"[0] {TASK} → {PULLABLE} (not installed, 396 MB in memory" in online
    assert f"needs a download of 330 MB — run: hgpt models pull {PULLABLE} --online" in online
