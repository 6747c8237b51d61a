"""The four stages as one generator of typed events.

``Engine.run(request, attachments)`` checks its inputs at once (raising a
``UserInputError`` before anything is written), then returns a generator that
plans, selects, executes and answers, yielding ``engine.events`` as it goes and
saving the run record in the run's folder. A ``CancelToken`` stops the run between
steps; the record then says ``cancelled``. With ``review=callback`` the plan waits
for approval after planning: the callback may edit it (``engine.plan.review``), the
edit is validated, and a ``PlanReviewed`` event carries what will run.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Sequence

from . import answer as responder
from . import events as ev
from . import faults, offline
from . import files as att
from .cancel import CancelToken
from .errors import Cancelled, HgptError, PlanError, StorageError, UserInputError
from .execute import Executor
from .memory import MemoryManager, budget_mb
from .plan.chatlog import stage_history
from .plan.graph import Plan
from .history import RunKeeper
from .record import RunRecord, new_run_dir, peak_rss_mb
from .select import select
from .settings import Settings, load_settings

MAX_REQUEST_CHARS = 20_000
log = logging.getLogger(__name__)


def _checked_request(request: str) -> str:
    request = (request or "").strip()
    if not request:
        raise UserInputError("the request is empty; say what you want done")
    if len(request) > MAX_REQUEST_CHARS:
        raise UserInputError(
            f"the request is {len(request):,} characters; the limit is {MAX_REQUEST_CHARS:,}. "
            "Attach long text as a file or shorten it")
    return request


CONTROLLER_FIELDS = {"controller", "chat_format", "n_ctx", "n_threads", "n_gpu_layers", "offline",
                     "controller_model", "controller_api_key", "controller_grammar"}


class Engine:
    """The stage loop over parts it owns: controller, planner, expert registry, memory
    manager and catalog, all built lazily from its ``Settings`` (or given, in tests).

    ``update(settings)`` takes new settings for the next request: a part whose
    settings changed is rebuilt on next use (the controller when its fields changed,
    the data-folder parts when the folder moved) and the memory budget applies at once.
    One Engine may run several requests at once: a run's state lives in its own
    ``_Run``, the planner keeps none, and the controller serialises its calls.
    """

    def __init__(self, settings: Settings | None = None, *, controller=None, registry=None,
                 catalog=None, planner=None, planning=None):
        self.settings = settings or load_settings()
        offline.enforce(self.settings.offline)  # before any loader imports huggingface_hub
        self._given = {name for name, part in (("controller", controller), ("registry", registry),
                                               ("catalog", catalog), ("planner", planner)) if part is not None}
        self._controller, self._registry, self._catalog, self._planner = controller, registry, catalog, planner
        self._planning = planning  # engine.plan.options.PlanningOptions for the planner built here (None: defaults)
        self._memory = None
        self._endpoint = None  # the inference endpoint (engine.ondemand), kept for what it lists
        self._history = None
        self._lock = threading.RLock()

    def update(self, settings: Settings) -> None:
        """Use ``settings`` from the next request on."""
        with self._lock:
            changed = settings.changed(self.settings)
            self.settings = settings
            offline.enforce(settings.offline)
            if changed & CONTROLLER_FIELDS:
                self._drop("controller", "planner")
            if "home" in changed:  # caches, exports, history and the catalog live in the data folder
                self._drop("catalog", "planner", "registry")
                self._history = None  # a run in flight keeps the store it started with
            if changed & {"remote_url", "remote_token", "remote_timeout", "inference_mode", "offline"}:
                self._endpoint = None
            if self._memory is not None and "memory_budget_mb" in changed:
                self._memory.budget_mb = budget_mb(settings.memory_budget_mb)

    def _drop(self, *names: str) -> None:
        for name in names:
            if name not in self._given:
                setattr(self, f"_{name}", None)

    # Heavy parts are built on first use, so the window can appear first.
    @property
    def controller(self):
        with self._lock:
            if self._controller is None:
                from .controller import load_controller

                self._controller = load_controller(self.settings)
            return self._controller

    @property
    def registry(self):
        with self._lock:
            if self._registry is None:
                from .experts.registry import build_registry

                self._registry = build_registry(self.settings)
            return self._registry

    @property
    def memory(self) -> MemoryManager:
        with self._lock:
            if self._memory is None:
                self._memory = MemoryManager(budget_mb(self.settings.memory_budget_mb))
            return self._memory

    @property
    def catalog(self):
        with self._lock:
            if self._catalog is None:
                from .catalog import open_catalog

                self._catalog = open_catalog(self.settings.catalog_path, self.registry)
            return self._catalog

    @property
    def planner(self):
        with self._lock:
            if self._planner is None:
                from .plan.calibration import draft_mode
                from .plan.options import PlanningOptions
                from .plan.planner import default_planner

                options = self._planning or PlanningOptions()
                mode = draft_mode(self.controller, self.settings.planning_file, options.draft)
                self._planner = default_planner(self.controller, options=replace(options, draft=mode),
                                                cache_dir=self.settings.cache_dir)
            return self._planner

    def calibrate(self, checks: str | Path | None = None, cancel: CancelToken | None = None):
        """Measure whether this controller plans better than the rails, on labelled requests
        (``engine.plan.calibration``; ``checks`` a file of them, default the shipped set):
        a stream of ``CaseChecked`` events, then the ``Verdict``, which is kept in the data
        folder and decides, from the next plan on, whose plan runs."""
        from .plan.calibration import CHECKS_PATH, Verdict, load_checks, measure, save_verdict

        cases = load_checks(checks or CHECKS_PATH)
        for event in measure(self.planner, cases, cancel):
            if isinstance(event, Verdict):
                save_verdict(self.settings.planning_file, event)
                with self._lock:
                    self._drop("planner")
            yield event

    def _embed(self, texts):
        from .embeddings import embed

        return embed(texts, cache_dir=self.settings.cache_dir)

    def _about(self) -> str:
        """What this installation can do (for questions about hgpt), from its installed experts."""
        from .files import FILE_SUFFIXES

        return responder.about_hgpt(self._can(sorted(self.registry.tasks() - {"controller"})),
                                    {k: v for k, v in FILE_SUFFIXES.items() if k != "video"})

    def _can(self, tasks: Sequence[str]) -> list[str]:
        """Each installed task in plain words: what its installed experts say they do where
        every one has a scope (RapidOCR reads text, it does not caption), else the task's own
        description; the same words once."""
        said = []
        for task in tasks:
            experts = self.registry.for_task(task)
            scopes = [e.scopes[task].does for e in experts if task in e.scopes]
            known = self.task_types.get(task)
            words = scopes if experts and len(scopes) == len(experts) else [known.description if known else task]
            said += [w for w in words if w not in said]
        return said

    def warm_up(self) -> None:
        """Load the expert registry and the controller's weights now (the window does this
        after its first paint, so the first request starts sooner)."""
        _ = self.registry
        self.controller.load()
        planner = self.planner  # the task ranking and demonstrations: the embedding model and its vectors
        planner.part("ranker"), planner.part("bank")

    def models(self):
        """A ``ModelBrowser`` over this engine's catalog and experts (the Models view's model)."""
        from .preflight import controller_mb
        from .views.browse import ModelBrowser

        return ModelBrowser(self.catalog, self.registry, self.settings, controller_mb=controller_mb(self._controller),
                            puller=self.pull)

    @property
    def task_types(self) -> dict:
        """The task types plans may use, by name."""
        return self.planner.types_by_name

    @property
    def history(self):
        """The history store of the data folder (conversations, messages, runs)."""
        with self._lock:
            if self._history is None:
                from .history import HistoryStore

                self._history = HistoryStore(self.settings.db_path)
            return self._history

    def run(self, request: str, attachments: Sequence[str] = (), *,
            cancel: CancelToken | None = None, history: Sequence[dict] | None = None,
            review: bool = False, conversation: int | None = None, keep: bool = True,
            missing: str = "run") -> Iterator[ev.Event]:
        """Run ``request`` through the four stages, as a generator of events.

        The run is kept in the history store as a turn of ``conversation`` (a new one
        when None; ``keep=False`` keeps it out of the history), and its earlier turns
        are the chat log unless ``history`` is given. With ``review`` the plan waits:
        the generator yields ``ReviewRequested`` and takes the decision through
        ``send``. The request and attachments are checked now, before anything is
        written (a ``UserInputError``).

        ``missing`` says what happens when pre-flight finds a model the plan needs that is
        not installed but can be pulled (``engine.preflight``): ``"run"`` goes on without it (the
        task runs with the best installed candidate selection offered, else fails saying how
        to get its model), ``"stop"`` ends the run before execution saying exactly
        what to run, ``"fetch"`` downloads it and runs, ``"ask"`` waits on ``PreflightReady``
        for ``send("fetch" | "run" | None)``."""
        request = _checked_request(request)
        checked = att.check_all(attachments)
        if missing not in MISSING_POLICIES:
            raise UserInputError(f"missing={missing!r}; use one of {', '.join(MISSING_POLICIES)}")
        return self._run(request, checked, cancel or CancelToken(), history, review, conversation, keep,
                         missing=missing)

    def plan_only(self, request: str, attachments: Sequence[str] = (), history: Sequence[dict] = (),
                  cancel: CancelToken | None = None, *, as_run: bool = True):
        """Stage 1 alone, for ``hgpt plan``: the plan, its seconds, and what the planner
        saw (a ``PlanTrace``: clauses and the task each asked for, the task types on
        offer, demonstrations, controller calls). The plan is the one a run would
        execute: held to what the installed experts can do, as in ``run``; with
        ``as_run=False`` it is the planner's own (the evaluations score the planner, not
        what this machine has installed). Nothing is run or written."""
        request = _checked_request(request)
        modalities = {path.name: modality for path, modality in att.check_all(attachments)}
        plan, seconds, trace = self.planner.plan(request, modalities, list(history), cancel=cancel)
        if as_run:
            trace.held = self._fit_to_experts(plan, trace, trace.asked or request)
        return plan, seconds, trace

    def _fit_to_experts(self, plan, trace, request: str) -> dict[int, str]:
        """Task id -> the clause that asked for it (``PlanTrace.clauses_of``); each task no
        installed expert can serve as its clause asks goes to one that can, and the plan's
        repairs say so (``engine.capability.adjust``). The same for a run and a preview."""
        clauses = trace.clauses_of(plan, request)
        if plan.tasks:
            from .capability import adjust

            plan.repairs += adjust(plan, request, self.registry, self.task_types, self._embed, clauses)
        return clauses

    def rerun(self, run_id: str, from_task: int, changes=None, *, cancel: CancelToken | None = None,
              keep: bool = True) -> Iterator[ev.Event]:
        """Re-run task ``from_task`` of a recorded run and the tasks that depend on it, with
        ``changes`` (``engine.rerun.Changes``: arguments, models); the other tasks keep their
        recorded results. A new run in the same conversation; the same events as ``run``.
        Problems with the run or the changes are a ``UserInputError`` now, before anything
        is written (``engine.rerun``)."""
        from .rerun import Changes, load_run, prepare_rerun

        recorded = load_run(run_id, self.settings.runs_dir, self._history_or_none())
        script, attachments = prepare_rerun(recorded, int(from_task), changes or Changes(), self.task_types,
                                            self.registry)
        return self._run(recorded.record.get("request", ""), att.check_all(attachments), cancel or CancelToken(),
                         [], False, recorded.conversation_id, keep, script)

    def replay(self, run_id: str, *, cancel: CancelToken | None = None) -> Iterator[ev.Event]:
        """Run a recorded run's plan again with its models, computing every task, and compare
        each output with the recorded one (``ReplayCompared``; ``engine.replay``). The replay
        gets its own run folder and is not added to the conversation."""
        from .rerun import load_run, prepare_replay

        recorded = load_run(run_id, self.settings.runs_dir, self._history_or_none())
        script, attachments = prepare_replay(recorded)
        return self._run(recorded.record.get("request", ""), att.check_all(attachments), cancel or CancelToken(),
                         [], False, None, False, script)

    def recorded_run(self, run_id: str):
        """A recorded run, checked (``engine.rerun.Recorded``; ``RunRecordError`` when it is gone or edited)."""
        from .rerun import load_run

        return load_run(run_id, self.settings.runs_dir, self._history_or_none())

    def _history_or_none(self):
        store = self.history_or_error()
        return None if isinstance(store, Exception) else store

    def _run(self, request, checked, cancel, history, review, conversation, keep, script=None,
             missing: str = "run") -> Iterator[ev.Event]:
        record, files, modalities = self._start_record(request, checked)
        run_id, run_dir = record.run_id, record.run_dir
        record.origin = dict(script.origin) if script is not None else {}
        kept = RunKeeper(self.history_or_error, record, conversation) if keep else None
        if history is None:
            history = kept.chat_history() if kept is not None else []
        attached = [str(path) for path in files.values()]  # the user's own: the chat log's files are its turns'
        own = list(files)
        history = stage_history(history, Path(run_dir), files)  # earlier turns' files, for "that picture"
        run = _Run(record, request, files, modalities, cancel, history, review, script=script, missing=missing)
        started = time.perf_counter()
        yield ev.RunStarted(run_id, request, own, str(run_dir))
        if kept is not None:
            yield from kept.notices(kept.start(attached))
        stage = "plan"
        try:
            record.controller = self.controller.name
            for stage in run.stages:
                step = getattr(self, f"_{stage}")
                if stage in ("review", "select", "preflight", "execute") and not run.plan.tasks:
                    continue
                if stage == "review" and not run.review:
                    continue
                cancel.check()
                yield ev.StageStarted(run_id, stage)
                t0 = time.perf_counter()
                step_events = step(run)
                reply = None
                while True:
                    try:
                        event = step_events.send(reply)
                    except StopIteration:
                        break
                    record.apply(event)
                    reply = yield event
                    if kept is not None:
                        yield from kept.notices(kept.progress(event))
                record.timings[stage] = time.perf_counter() - t0
            record.status = "done"
        except Cancelled:
            record.status = "cancelled"
            yield ev.RunCancelled(run_id, stage)
        except HgptError as exc:
            record.status, record.error = "failed", str(exc)
            yield ev.RunFailed(run_id, str(exc), stage)
        finally:
            record.timings["total"] = time.perf_counter() - started
            record.peak_rss_mb = peak_rss_mb()
            record.provenance = _run_provenance(self._controller, files)
            if record.status == "running":  # the consumer stopped iterating, or a bug
                record.status = "interrupted"
                record.error = "the run stopped before it finished"
            try:
                record.save()
            except OSError as exc:  # the answer still reaches the user and the history store
                log.warning("run %s: %s", run_id, faults.storage_message(exc, "run.json"))
            if kept is not None:
                kept.finish(stage_doing=ev.stage_words(stage).doing)
        if record.status == "done":
            yield ev.AnswerDone(run_id, record.text, record.answer_parts(), record.to_dict())

    def history_or_error(self):
        """The history store, or the ``HgptError``/``sqlite3.Error`` that keeps it closed."""
        import sqlite3

        try:
            return self.history
        except (HgptError, sqlite3.Error, OSError) as exc:
            return exc

    def _start_record(self, request, checked):
        """The run folder with its inputs and first run.json; a failed write is one line."""
        run_dir = None
        try:
            run_id, run_dir = new_run_dir(self.settings.runs_dir)
            files, modalities = att.stage(checked, run_dir)
            record = RunRecord(run_id, str(run_dir), request, list(files))
            record.save()
        except OSError as exc:
            if run_dir is not None:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise StorageError(faults.storage_message(exc, "the run folder")) from exc
        return record, files, modalities

    # -- stages: each takes the run's own state, so one Engine can serve concurrent runs --
    def _plan(self, run: "_Run"):
        if run.script is not None:  # a re-run or replay follows the recorded plan, asked as it was
            run.plan = Plan.from_list(run.script.plan.to_list())
            run.record.asked = str(run.script.recorded.record.get("asked", "") or "")
            yield ev.PlanReady(run.record.run_id, run.plan.to_list(), [], "", 0.0)
            return
        plan, seconds, trace = self.planner.plan(run.request, run.modalities, run.history, cancel=run.cancel)
        run.record.asked = trace.asked
        run.clauses = self._fit_to_experts(plan, trace, run.task_request)
        run.plan = plan
        yield ev.PlanReady(run.record.run_id, plan.to_list(), plan.repairs, plan.raw, seconds, trace.chosen, trace.why)

    def _review(self, run: "_Run"):
        from .plan.graph import Plan
        from .plan.review import MAX_REVIEW_ROUNDS, as_reviewed, check

        problems: list[str] = []
        task_types = self.task_types
        preflight = self._provisional_preflight(run)
        if preflight is not None:
            yield preflight
        for _ in range(MAX_REVIEW_ROUNDS):
            run.cancel.check()
            decision = yield ev.ReviewRequested(run.record.run_id, run.plan.to_list(), list(problems))
            run.cancel.check()
            if decision is None:
                raise Cancelled("the plan was not approved")
            reviewed = as_reviewed(decision, run.plan)
            problems = check(reviewed, task_types, self.registry)
            if not problems:
                break
        else:
            raise PlanError("the reviewed plan still has problems: " + "; ".join(problems))
        run.plan = Plan(list(reviewed.tasks), list(run.plan.repairs), run.plan.raw)
        run.pinned = dict(reviewed.models)
        yield ev.PlanReviewed(run.record.run_id, run.plan.to_list(),
                              {str(k): v for k, v in run.pinned.items()}, reviewed.edited)

    def _select(self, run: "_Run"):
        catalog = self._catalog_or_none(run)
        if run.script is None:
            sources = self._sources(catalog)
            run.source = sources.source
            if sources.notice:
                yield ev.RunNotice(run.record.run_id, sources.notice)
        for task in run.plan.tasks:
            run.cancel.check()
            try:
                if run.script is not None:  # the recorded (or changed) model
                    sel = run.script.select(task, self.registry, catalog, self.settings.top_k)
                elif task.id in run.pinned:
                    from .plan.review import pinned_selection

                    sel = pinned_selection(task, run.pinned[task.id], self.registry, catalog,
                                           self.settings.top_k)
                else:
                    sel = select(task, run.task_request, self.registry, catalog, self.controller,
                                 self.settings.top_k, cancel=run.cancel, embed=self._embed, source=run.source,
                                 clause=run.clauses.get(task.id, ""))  # none for a task the review added
            except HgptError as exc:
                run.selection_errors[task.id] = str(exc)
                continue
            run.selections[task.id] = sel
            yield ev.ModelSelected(run.record.run_id, task.id, task.task, sel.model_id, sel.reason,
                                   sel.candidates, sel.seconds)

    def _catalog_or_none(self, run: "_Run"):
        """The catalog; if it cannot be opened (damaged), None: selection then ranks the
        installed experts alone, and the answer carries the catalog's message."""
        try:
            return self.catalog
        except HgptError as exc:
            run.notes.append(str(exc))
            return None

    # -- models on demand (engine.ondemand, engine.preflight) ---------------------------------------
    def _sources(self, catalog):
        from .ondemand import source_for

        with self._lock:
            sources = source_for(self.settings, catalog, self._endpoint)
            if sources.endpoint is not None:
                self._endpoint = sources.endpoint  # keeps what the endpoint lists for the next run
            return sources

    def preflight(self, tasks, selections=None, errors=None, *, provisional: bool = False, clauses=None):
        """The pre-flight of ``tasks`` (``engine.preflight.check``) on this engine's experts,
        catalog, memory budget and controller; without ``selections``, the likely ones (of
        the experts that can do what ``clauses``, task id -> the words that asked, ask)."""
        from .preflight import check, likely_selections

        catalog = self._catalog_quietly()
        if selections is None:
            source = self._sources(catalog).source
            selections, errors = likely_selections(tasks, self.registry, catalog, self.settings.top_k, source,
                                                   clauses, self._embed if clauses else None)
            provisional = True
        return check(tasks, selections, errors, catalog=catalog, budget_mb=self.memory.budget_mb,
                     controller=self._controller, loaded=self.memory.held(), max_workers=self.settings.max_workers,
                     provisional=provisional)

    def _catalog_quietly(self):
        try:
            return self.catalog
        except HgptError:
            return None

    def _provisional_preflight(self, run: "_Run") -> ev.PreflightReady | None:
        try:
            report = self.preflight(run.plan.tasks, clauses=run.clauses)
        except HgptError as exc:  # the review goes on without it
            log.warning("pre-flight before review: %s", exc)
            return None
        return ev.PreflightReady(run.record.run_id, [t.to_dict() for t in report.tasks], report.summary(),
                                 provisional=True)

    def _preflight(self, run: "_Run"):
        from .errors import ModelsMissingError

        report = self.preflight(run.plan.tasks, run.selections, run.selection_errors)
        needs = report.missing
        asks = bool(needs) and run.missing == "ask"
        decision = yield ev.PreflightReady(run.record.run_id, [t.to_dict() for t in report.tasks],
                                           report.summary(), asks=asks)
        if not needs:
            return
        policy = run.missing
        if asks:
            policy = "fetch" if decision is True else decision if decision in ("fetch", "run") else "stop"
        if policy == "stop":
            raise ModelsMissingError(report.stop_message())
        if policy == "fetch":
            changed = yield from self._fetch(run, needs)
        else:
            changed = yield from self._fall_back(run, needs)
        if changed:
            after = self.preflight(run.plan.tasks, run.selections, run.selection_errors)
            yield ev.PreflightReady(run.record.run_id, [t.to_dict() for t in after.tasks], after.summary())

    def _fall_back(self, run: "_Run", needs):
        """Run without downloading: a task whose chosen model is not downloaded runs with the
        best installed candidate selection offered it, when there is one (a model the user
        pinned in review is kept); the others fail at execution saying how to get theirs.
        Returns whether a selection changed."""
        from .select import Selection

        changed = False
        for row in needs:
            old = run.selections.get(row.task_id)
            if old is None or row.task_id in run.pinned:
                continue
            local = self._installed_candidate(old, row.task)
            if local is None:
                continue
            sel = Selection(old.task_id, local.model_id, f"{old.model_id} is not downloaded, so the best installed "
                            "candidate runs instead", local, old.candidates, old.seconds)
            run.selections[row.task_id] = sel
            changed = True
            yield ev.ModelSelected(run.record.run_id, row.task_id, row.task, sel.model_id, sel.reason,
                                   sel.candidates, sel.seconds)
        return changed

    def _installed_candidate(self, selection, task: str):
        """The first (most downloaded) of ``selection``'s other candidates that is installed
        and can run ``task`` here, or None."""
        for card in selection.candidates:
            model_id = card["id"]
            if model_id == selection.model_id or model_id not in self.registry:
                continue
            expert = self.registry.get(model_id)
            if task in expert.tasks and expert.missing() is None:
                return expert
        return None

    def _fetch(self, run: "_Run", needs):
        """Download the models pre-flight found missing (progress as ``TaskProgress`` in bytes on
        the tasks that need them), then give those tasks the installed experts. A pull that
        fails is that task's error (one line); the run goes on with the others."""
        from .select import Selection

        by_spec: dict[str, list] = {}
        for row in needs:
            by_spec.setdefault(row.spec or row.model_id, []).append(row)
        for spec, rows in by_spec.items():
            run.cancel.check()
            try:
                model_id = yield from self._pull_with_progress(run, spec, rows)
            except Cancelled:
                raise
            except HgptError as exc:
                for row in rows:
                    run.selection_errors[row.task_id] = f"{rows[0].model_id} could not be downloaded: {exc}"
                    run.selections.pop(row.task_id, None)
                yield ev.RunNotice(run.record.run_id, f"{rows[0].model_id} could not be downloaded: {exc}")
                continue
            for row in rows:
                task = next(t for t in run.plan.tasks if t.id == row.task_id)
                expert = self.registry.get(model_id) if model_id in self.registry else None
                if expert is None or task.task not in expert.tasks or expert.missing() is not None:
                    why = expert.missing() if expert is not None else "hgpt found no runnable model in what was downloaded"
                    run.selection_errors[row.task_id] = f"{model_id} was downloaded but cannot run {task.task}: {why}"
                    run.selections.pop(row.task_id, None)
                    continue
                old = run.selections.get(row.task_id)
                sel = Selection(task.id, model_id, (old.reason if old else "the catalog's most downloaded model "
                                                    "that can be pulled for it") + "; downloaded for this run",
                                expert, old.candidates if old else [], old.seconds if old else 0.0)
                run.selections[task.id] = sel
                run.selection_errors.pop(task.id, None)
                yield ev.ModelSelected(run.record.run_id, task.id, task.task, model_id, sel.reason,
                                       sel.candidates, sel.seconds)
        return True

    def _pull_with_progress(self, run: "_Run", spec: str, rows):
        """``pull`` in a thread, its bytes reported as ``TaskProgress`` of the first task needing it."""
        import queue as queues

        reports: queues.SimpleQueue = queues.SimpleQueue()
        outcome: dict = {}
        first = next(t for t in run.plan.tasks if t.id == rows[0].task_id)

        def work():
            try:
                outcome["model"] = self.pull(spec, progress=lambda done, total: reports.put((done, total)),
                                             cancel=run.cancel)
            except BaseException as exc:  # noqa: BLE001 - handed to the run's thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="hgpt-fetch", daemon=True)
        started = time.perf_counter()
        worker.start()
        while worker.is_alive() or not reports.empty():
            worker.join(0.1)
            latest = None
            while not reports.empty():
                latest = reports.get()
            if latest is not None:
                done, total = latest
                yield ev.TaskProgress(run.record.run_id, first.id, first.task, float(done), float(total), "bytes",
                                      round(time.perf_counter() - started, 2))
        if "error" in outcome:
            raise outcome["error"]
        return outcome["model"]

    def pull(self, spec: str, *, progress=None, cancel: CancelToken | None = None, include=()) -> str:
        """Download a model (``engine.models.pull.pull_model``: a models.lock name or any Hub id,
        pinned in the user lock), make it an expert of this engine and mark it installed in
        the catalog; returns its model id. ``progress(done_bytes, total_bytes)`` as it goes."""
        from .models.pull import pull_model
        from .views.browse import callback_bar

        report = pull_model(spec, offline=self.settings.offline, include=tuple(include), cancel=cancel,
                            tqdm_class=callback_bar(progress) if progress else None)
        model_id = report.repo or report.name
        with self._lock:
            if self._registry is not None and model_id not in self._registry:
                from .experts.hf.discover import register_one

                register_one(self._registry, model_id)
            if self._catalog is not None:
                from .catalog.scan import refresh_local

                try:
                    refresh_local(self._catalog, self._registry)
                except Exception as exc:  # noqa: BLE001 - the catalog catches up at the next start
                    log.warning("catalog not refreshed after pulling %s: %s", model_id, exc)
        return model_id

    def _execute(self, run: "_Run"):
        from .schedule import steps

        order = [run.selections[t].model_id for step in steps(run.plan.tasks, self.settings.max_workers)
                 for t in step if t in run.selections]
        with self.memory.expect(order):  # unloading prefers experts this plan does not need again
            yield from self._execute_plan(run)

    def _execute_plan(self, run: "_Run"):
        executor = Executor(run.selections, run_id=run.record.run_id, run_dir=run.record.run_dir_path,
                            attachments=run.files, controller=self.controller, cancel=run.cancel,
                            max_workers=self.settings.max_workers,
                            task_types=self.task_types,
                            selection_errors=run.selection_errors,
                            memory=self.memory,
                            offline=self.settings.offline, memo=self._memo(run),
                            request=run.task_request)
        yield from executor.run(run.plan.tasks)

    def _memo(self, run: "_Run"):
        from .results_cache import ResultsCache, TaskMemo

        script = run.script
        cache = ResultsCache(self.settings.results_dir, self.settings.results_cache_mb)
        return TaskMemo(cache, self.controller, run.record.run_id, read=script.read_cache if script else True,
                        given=dict(script.given) if script else {})

    def _compare(self, run: "_Run"):
        """A replay's last stage: each output against the recorded run's (``engine.replay``)."""
        from .replay import compare, summary

        record, recorded = run.record, run.script.recorded
        verdicts = compare(recorded, record.to_dict())
        yield ev.ReplayCompared(record.run_id, recorded.run_id, verdicts)
        record.answer = summary(verdicts, recorded.run_id)[0]
        record.workflow = responder.workflow_steps(record.results())

    def _answer(self, run: "_Run"):
        record = run.record
        results = record.results()
        pieces = []
        about = self._about() if not results and responder.asks_about_me(run.request) else ""
        request = run.request
        if run.asked:  # "and this one?": say what was asked of the new file
            request = f'{run.request} (I asked "{run.asked}" again, of the file I attached now.)'
        for piece in responder.direct_answer(self.controller, request, results, run.history, run.cancel, about):
            run.cancel.check()
            pieces.append(piece)
            yield ev.Token(record.run_id, piece)
        record.answer = "".join(pieces).strip()
        record.workflow = responder.workflow_steps(results, record.controller)
        record.notes = faults.plan_failures(run.plan.repairs) + run.notes


@dataclass
class _Run:
    """One run's state as it moves through the stages."""

    record: RunRecord
    request: str
    files: dict
    modalities: dict
    cancel: CancelToken
    history: list
    review: bool = False
    plan: Plan = field(default_factory=Plan)
    selections: dict = field(default_factory=dict)
    selection_errors: dict = field(default_factory=dict)
    pinned: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what went wrong outside a task, for the answer
    script: object = None  # a re-run or replay (engine.rerun.Script): the recorded plan and models
    missing: str = "run"  # what pre-flight does about models to download (Engine.run)
    source: object = None  # extra candidates: pullable or remote models (engine.ondemand)
    clauses: dict = field(default_factory=dict)  # task id -> the clause that asked for it (PlanTrace.clauses_of)

    @property
    def asked(self) -> str:
        """An earlier request the plan asks again, of this turn's file ("and this one?"; kept in the record)."""
        return self.record.asked

    @property
    def task_request(self) -> str:
        """What the plan's experts are asked: the request, or the earlier one it asks again."""
        return self.asked or self.request

    @property
    def stages(self) -> tuple[str, ...]:
        return self.script.stages if self.script is not None else STAGE_ORDER


STAGE_ORDER = ("plan", "review", "select", "preflight", "execute", "answer")
MISSING_POLICIES = ("run", "stop", "fetch", "ask")


def _run_provenance(controller, files) -> dict:
    """The controller, libraries and attachments of a run (``engine.provenance``); never raises."""
    from . import provenance

    try:
        return {"controller": provenance.controller_provenance(controller),
                **provenance.environment_provenance(),
                "attachments": {name: provenance.sha256_of(path) for name, path in files.items()}}
    except Exception as exc:  # noqa: BLE001 - a record without provenance beats a lost record
        log.warning("provenance: %s", exc)
        return {"error": str(exc)}
