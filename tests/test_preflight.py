"""Pre-flight and the planned memory schedule.

The schedule and the verdicts are checked with small in-test experts whose footprint
is given (the code around models); the engine's runs use a real SQLite catalog, the
real memory manager, and for "Download and run" the fake Hub through huggingface_hub
with a real (tiny) ViT that then classifies the cat.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakehub import FakeHub

from engine import events as ev
from engine.catalog import open_catalog
from engine.cli.ask import TextPrinter
from engine.experts import Expert, ExpertRegistry, ExpertResult
from engine.memory import MemoryManager, fit
from engine.ondemand import PendingExpert
from engine.plan.graph import Task
from engine.preflight import check, lines
from engine.schedule import simulate, steps, victims
from engine.select import Selection
from engine.session import Engine
from engine.testing import ScriptedController, collect, scripted_planner

ROOT = Path(__file__).resolve().parents[1]
CHELSEA = ROOT / "samples" / "chelsea.png"
REPO = "hgpt-test/tiny-vit"


class Sized(Expert):
    """An expert of ``mb`` MB whose weights are really allocated when it loads."""

    def __init__(self, model_id, mb, tasks=("text-generation",)):
        super().__init__()
        self.model_id, self.mb, self.tasks = model_id, mb, tuple(tasks)
        self.weights = None
        self.loads = 0

    def footprint_mb(self):
        return self.mb

    def setup(self):
        self.weights = bytearray(int(self.mb * 2**20))
        self.loads += 1

    def teardown(self):
        self.weights = None

    def run(self, task, args, ctx):
        return ExpertResult(text=f"{self.model_id}:{args.get('text', '')}")


def task(i, name="text-generation", dep=(-1,), **args):
    return Task(i, name, list(dep), args or {"text": f"t{i}"})


# -- the schedule -----------------------------------------------------------------------------------
def test_steps_follow_dependencies_and_the_worker_count():
    plan = [task(0), task(1), task(2, dep=[0]), task(3, dep=[1, 2]), task(4)]
    assert steps(plan, 2) == [[0, 1], [2, 4], [3]]
    assert steps(plan, 1) == [[0], [1], [2], [3], [4]]


def test_belady_keeps_what_the_plan_needs_again():
    # a b a c a with room for two: LRU would unload a for c, the plan keeps a and drops b
    order = [[0], [1], [2], [3], [4]]
    models = {0: ("a", 2), 1: ("b", 2), 2: ("a", 2), 3: ("c", 2), 4: ("a", 2)}
    plan = simulate(order, models, budget_mb=4, controller_mb=1)
    assert plan.loads == 3  # a, b, c: a never reloads
    assert plan.tasks[3].unloads == ["b"] and plan.tasks[3].with_models == ["a"]
    assert plan.tasks[0].kept and not plan.tasks[1].kept and plan.tasks[2].load == "loaded"
    assert plan.peak_mb == 5  # the controller and two experts
    assert victims(["b", "a", "c"], ["c", "a"]) == ["b", "a", "c"]


def test_the_memory_manager_unloads_what_the_plan_does_not_need_again():
    a, b, c = Sized("a", 2), Sized("b", 2), Sized("c", 2)
    memory = MemoryManager(budget_mb=4)
    with memory.expect(["a", "b", "a", "c", "a"]):
        for expert in (a, b, a, c, a):
            with memory.use(expert):
                pass
    assert memory.evicted == ["b"] and a.loads == 1  # plain LRU would have unloaded a for c, then reloaded it
    assert memory.upcoming == []


def test_fit_words():
    assert fit(100, 1000, 50) == "fits"
    assert fit(700, 1000, 100) == "tight"
    assert fit(1001, 1000) == "too large"


# -- verdicts -----------------------------------------------------------------------------------------
def selection(i, expert):
    return Selection(i, expert.model_id, "test", expert)


class RemoteLike(Sized):
    class endpoint:  # noqa: N801 - what preflight reads of a remote expert
        name = "http://127.0.0.1:9"

    fallback = None


def test_each_verdict(hgpt_home, monkeypatch):
    catalog = open_catalog(hgpt_home / "catalog.db", ExpertRegistry())
    monkeypatch.setattr("engine.preflight.disk_free_mb", lambda: 500.0)
    big = Sized("big", 5000)
    plan = [task(0), task(1), task(2), task(3), task(4, "tabular-classification", image="t.png"), task(5)]
    chosen = {0: selection(0, Sized("small", 100)), 1: selection(1, big),
              2: selection(2, PendingExpert("org/fetchable", "text-generation", size_mb=300)),
              3: selection(3, PendingExpert("org/huge-download", "text-generation", size_mb=900)),
              5: selection(5, RemoteLike("org/remote", 0))}
    report = check(plan, chosen, {4: "no installed model can run tabular-classification"}, catalog=catalog,
                   budget_mb=4000, controller=None, max_workers=1)
    verdicts = {t.task_id: t.verdict for t in report.tasks}
    assert verdicts == {0: "runs", 1: "too large", 2: "download", 3: "no disk", 4: "no model", 5: "remote"}
    rows = {t.task_id: t for t in report.tasks}
    assert rows[2].command == "hgpt models pull org/fetchable --online" and rows[2].download_mb == 300
    assert rows[3].words == "needs 900 MB of disk, 500 MB free"
    assert "budget is 3.9 GB" in rows[1].words and rows[1].fit == "too large"
    assert rows[5].where == "http://127.0.0.1:9" and rows[5].memory_mb == 0
    assert rows[4].words.startswith("no installed model can run tabular-classification")
    assert report.commands == ["hgpt models pull org/fetchable --online", "hgpt models pull org/huge-download --online"]
    assert "models are missing — task 2 (text-generation) needs org/fetchable (300 MB)" in report.stop_message()
    json.dumps(report.to_dict())  # JSON-safe, for the event and --json
    text = "\n".join(lines(**report.to_dict()))
    assert "[2] text-generation → org/fetchable (not installed, 360 MB in memory" in text
    assert "to download: 1.2 GB" in text


def test_peak_counts_the_controller_and_the_experts_kept_loaded(hgpt_home):
    class Gguf:
        path = CHELSEA  # any file: its size is the controller's weight

    a, b = Sized("a", 100), Sized("b", 200)
    plan = [task(0), task(1, dep=[0]), task(2, dep=[1])]
    chosen = {0: selection(0, a), 1: selection(1, b), 2: selection(2, a)}
    report = check(plan, chosen, catalog=None, budget_mb=1000, controller=Gguf(), max_workers=2)
    ctrl = CHELSEA.stat().st_size / 2**20 * 1.2
    rows = {t.task_id: t for t in report.tasks}
    assert rows[1].peak_mb == pytest.approx(ctrl + 300, abs=0.1)  # a stays loaded for task 2 while b runs
    assert rows[0].kept and rows[2].load == "loaded" and report.loads == 2
    assert report.peak_mb == pytest.approx(ctrl + 300, abs=0.1)


def test_experts_that_run_at_once_and_together_exceed_the_budget_are_tight(hgpt_home):
    a, b, c = Sized("a", 600), Sized("b", 600), Sized("c", 100)
    plan = [task(0), task(1), task(2, dep=[0, 1])]
    chosen = {0: selection(0, a), 1: selection(1, b), 2: selection(2, c)}
    rows = {t.task_id: t for t in check(plan, chosen, budget_mb=1000, max_workers=2).tasks}
    assert [rows[i].verdict for i in range(3)] == ["runs"] * 3
    assert (rows[0].fit, rows[1].fit, rows[2].fit) == ("tight", "tight", "fits")
    assert rows[0].words == "runs; with b loaded beside it (the tasks run at the same time) the experts exceed the " \
                            "1,000 MB memory budget"
    one_at_a_time = {t.task_id: t for t in check(plan, chosen, budget_mb=1000, max_workers=1).tasks}
    assert one_at_a_time[0].fit == "fits" and one_at_a_time[0].words == "runs"


def test_a_task_without_a_model_gets_the_catalogs_pullable_suggestion(hgpt_home):
    catalog = open_catalog(hgpt_home / "catalog.db", ExpertRegistry())
    catalog.upsert([{"id": "acme/depth-big", "pipeline_tag": "depth-estimation", "downloads": 900,
                     "library_name": "transformers", "size_mb": 1300},
                    {"id": "acme/depth-custom", "pipeline_tag": "depth-estimation", "downloads": 5000,
                     "library_name": "keras"}])
    report = check([task(0, "depth-estimation", image="a.png")], {}, {0: "no installed model"}, catalog=catalog,
                   budget_mb=8000)
    row = report.tasks[0]
    assert (row.model_id, row.verdict, row.suggested, row.download_mb) == ("acme/depth-big", "download", True, 1300)


# -- the engine: stop, fetch, ask -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def vit_files(tmp_path_factory):
    from tiny_hf import build_vit

    folder = build_vit(tmp_path_factory.mktemp("vit"))
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def hub(vit_files, monkeypatch, tmp_path):
    import huggingface_hub.constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with FakeHub({(REPO, name): data for name, data in vit_files.items()},
                 info={REPO: {"pipeline_tag": "image-classification", "library_name": "transformers"}}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server
    reset_sessions()


def online_engine(settings, vit_files):
    plan = json.dumps([{"task": "image-classification", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}])
    controller = ScriptedController([plan, "It is a cat."])
    settings = settings.with_(offline=False)
    registry = ExpertRegistry(settings=settings)
    catalog = open_catalog(settings.catalog_path, registry)
    catalog.upsert([{"id": REPO, "pipeline_tag": "image-classification", "downloads": 10,
                     "library_name": "transformers", "size_mb": sum(map(len, vit_files.values())) / 2**20}])
    engine = Engine(settings, controller=controller, registry=registry, catalog=catalog,
                    planner=scripted_planner(controller))
    return engine


def test_ask_stops_before_execution_and_says_what_to_run(hub, settings, vit_files, capsys):
    engine = online_engine(settings, vit_files)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="stop"))
    pre = next(e for e in events if isinstance(e, ev.PreflightReady))
    assert pre.tasks[0]["verdict"] == "download" and pre.tasks[0]["model_id"] == REPO and not pre.asks
    failed = events[-1]
    assert isinstance(failed, ev.RunFailed) and failed.stage == "preflight"
    assert f"Run: hgpt models pull {REPO} --online" in failed.error and "--pull" in failed.error
    assert not any(isinstance(e, ev.TaskStarted) for e in events) and not hub.gets("/resolve/")
    printer = TextPrinter()
    for event in events:
        printer.show(event)
    out = capsys.readouterr().out
    assert "Checking what the plan needs" in out and f"[0] image-classification → {REPO} (not installed" in out
    assert "while checking what the plan needs: models are missing" in out and printer.exit_code == 1


def test_fetch_downloads_with_progress_then_runs(hub, settings, vit_files):
    engine = online_engine(settings, vit_files)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="fetch"))
    progress = [e for e in events if isinstance(e, ev.TaskProgress)]
    assert progress and progress[-1].unit == "bytes" and progress[-1].done == progress[-1].total > 0
    checks = [e for e in events if isinstance(e, ev.PreflightReady)]
    assert [c.tasks[0]["verdict"] for c in checks] == ["download", "runs"]
    done = next(e for e in events if isinstance(e, ev.TaskFinished))
    assert done.model_id == REPO and done.data["labels"]
    assert isinstance(events[-1], ev.AnswerDone)
    assert events[-1].record["preflight"]["tasks"][0]["verdict"] == "runs"
    assert engine.catalog.get(REPO)["installed"] is True


def test_ask_waits_for_the_answer(hub, settings, vit_files):
    engine = online_engine(settings, vit_files)
    stream = engine.run("what animal is this?", [CHELSEA], missing="ask")
    event = next(stream)
    while not isinstance(event, ev.PreflightReady):
        event = stream.send(None)
    assert event.asks and event.summary["commands"] == [f"hgpt models pull {REPO} --online"]
    rest = [stream.send("fetch")]
    rest += list(stream)
    assert any(isinstance(e, ev.TaskFinished) for e in rest) and isinstance(rest[-1], ev.AnswerDone)


def test_declining_the_download_stops_the_run(hub, settings, vit_files):
    engine = online_engine(settings, vit_files)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="ask"))  # collect answers None
    assert isinstance(events[-1], ev.RunFailed) and "models are missing" in events[-1].error
    assert not hub.gets("/resolve/")


def test_a_failed_download_fails_only_its_task(hub, settings, vit_files):
    hub.fail = 500
    engine = online_engine(settings, vit_files)
    events = collect(engine.run("what animal is this?", [CHELSEA], missing="fetch"))
    notice = next(e for e in events if isinstance(e, ev.RunNotice))
    assert f"{REPO} could not be downloaded" in notice.message
    failed = next(e for e in events if isinstance(e, ev.TaskFailed))
    assert "could not be downloaded" in failed.error and isinstance(events[-1], ev.AnswerDone)


def test_plan_review_shows_a_provisional_preflight(settings):
    plan = json.dumps([{"task": "text-generation", "id": 0, "dep": [-1], "args": {"text": "hi"}}])
    controller = ScriptedController([plan, "done"])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([Sized("test/writer", 10)]),
                    planner=scripted_planner(controller))
    stream = engine.run("write", review=True)
    seen = []
    for event in stream:
        seen.append(event)
        if isinstance(event, ev.ReviewRequested):
            break
    pre = next(e for e in seen if isinstance(e, ev.PreflightReady))
    assert pre.provisional and pre.tasks[0]["model_id"] == "test/writer" and pre.tasks[0]["verdict"] == "runs"
    assert seen.index(pre) < seen.index(next(e for e in seen if isinstance(e, ev.ReviewRequested)))
    stream.close()


def test_offline_runs_are_unchanged_and_say_what_a_missing_model_needs(settings):
    plan = json.dumps([{"task": "depth-estimation", "id": 0, "dep": [-1], "args": {"image": "chelsea.png"}}])
    controller = ScriptedController([plan, "no depth"])
    engine = Engine(settings, controller=controller, registry=ExpertRegistry([Sized("test/writer", 10)]),
                    planner=scripted_planner(controller))
    events = collect(engine.run("depth of this", [CHELSEA]))
    pre = next(e for e in events if isinstance(e, ev.PreflightReady))
    assert pre.tasks[0]["verdict"] in ("download", "no model")  # models.lock pins dpt-large for it
    assert isinstance(events[-1], ev.AnswerDone)  # missing="run": the task fails, the run answers
