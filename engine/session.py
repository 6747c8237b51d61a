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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from . import files as att
from . import events as ev
from . import faults, offline, answer
from .cancel import CancelToken
from .plan.chatlog import stage_history
from .settings import Settings, settings as global_settings
from .errors import Cancelled, HgptError, PlanError, StorageError, UserInputError
from .execute import Executor
from .plan.graph import Plan
from .plan.planner import Planner
from .record import RunRecord, new_run_dir, peak_rss_mb
from .select import select

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


class Engine:
    def __init__(self, settings: Settings | None = None, *, controller=None, registry=None,
                 catalog=None, planner: Planner | None = None):
        self.settings = settings or global_settings()
        offline.enforce(self.settings.offline)  # before any loader imports huggingface_hub
        self._controller = controller
        self._registry = registry
        self._catalog = catalog
        self._planner = planner

    # Heavy parts are built on first use, so the window can appear first.
    @property
    def controller(self):
        if self._controller is None:
            from .controller.llama import load_controller

            self._controller = load_controller(self.settings)
        return self._controller

    @property
    def registry(self):
        if self._registry is None:
            from .experts.registry import default_registry

            self._registry = default_registry()
        return self._registry

    @property
    def catalog(self):
        if self._catalog is None:
            from .catalog import open_catalog

            self._catalog = open_catalog(self.settings.catalog_path, self.registry)
        return self._catalog

    @property
    def planner(self) -> Planner:
        if self._planner is None:
            from .plan.options import default_planner

            self._planner = default_planner(self.controller, self.registry)
        return self._planner

    def run(self, request: str, attachments: Sequence[str] = (), *,
            cancel: CancelToken | None = None, history: Sequence[dict] = (),
            review=None) -> Iterator[ev.Event]:
        """``review(plan, problems)``, if given, approves or edits the plan before it runs
        (see ``engine.plan.review``); it is called in the thread that iterates the events."""
        request = _checked_request(request)
        checked = att.check_all(attachments)
        return self._run(request, checked, cancel or CancelToken(), list(history), review)

    def plan_only(self, request: str, attachments: Sequence[str] = (), history: Sequence[dict] = ()):
        """Stage 1 alone, for ``hgpt plan``: the plan, its seconds, and what the planner
        saw (``Planner.last``: clauses and the task each asked for, the task types on
        offer, demonstrations, controller calls). Nothing is run or written."""
        request = _checked_request(request)
        modalities = {path.name: modality for path, modality in att.check_all(attachments)}
        plan, seconds = self.planner.plan(request, modalities, list(history))
        return plan, seconds, dict(self.planner.last)

    def _run(self, request, checked, cancel, history, review=None) -> Iterator[ev.Event]:
        record, files, modalities = self._start_record(request, checked)
        run_id, run_dir = record.run_id, record.run_dir
        history = stage_history(history, Path(run_dir), files)  # earlier turns' files, for "that picture"
        run = _Run(record, request, files, modalities, cancel, history, review)
        started = time.perf_counter()
        yield ev.RunStarted(run_id, request, list(files), str(run_dir))
        stage = "plan"
        try:
            record.controller = getattr(self.controller, "name", "")
            for stage, step in (("plan", self._plan), ("review", self._review), ("select", self._select),
                                ("execute", self._execute), ("answer", self._answer)):
                if stage in ("review", "select", "execute") and not run.plan.tasks:
                    continue
                if stage == "review" and run.review is None:
                    continue
                cancel.check()
                yield ev.StageStarted(run_id, stage)
                t0 = time.perf_counter()
                for event in step(run):
                    record.apply(event)
                    yield event
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
            if record.status == "running":  # the consumer stopped iterating, or a bug
                record.status = "interrupted"
            try:
                record.save()
            except OSError as exc:  # the answer still reaches the user and the history store
                log.warning("run %s: %s", run_id, faults.storage_message(exc, "run.json"))
        if record.status == "done":
            yield ev.AnswerDone(run_id, record.answer, record.to_dict())

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
        plan, seconds = self.planner.plan(run.request, run.modalities, run.history)
        run.plan = plan
        yield ev.PlanReady(run.record.run_id, plan.to_list(), plan.repairs, plan.raw, seconds)

    def _review(self, run: "_Run"):
        from .plan.graph import Plan
        from .plan.review import MAX_REVIEW_ROUNDS, as_reviewed, check

        problems: list[str] = []
        task_types = {t.name: t for t in self.planner.task_types}
        for _ in range(MAX_REVIEW_ROUNDS):
            run.cancel.check()
            decision = run.review(run.plan, problems)
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
        for task in run.plan.tasks:
            run.cancel.check()
            try:
                if task.id in run.pinned:
                    from .plan.review import pinned_selection

                    sel = pinned_selection(task, run.pinned[task.id], self.registry, catalog,
                                           self.settings.top_k)
                else:
                    sel = select(task, run.request, self.registry, catalog, self.controller,
                                 self.settings.top_k)
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

    def _execute(self, run: "_Run"):
        executor = Executor(run.selections, run_id=run.record.run_id, run_dir=run.record.run_dir_path,
                            attachments=run.files, controller=self.controller, cancel=run.cancel,
                            max_workers=self.settings.max_workers,
                            task_types={t.name: t for t in self.planner.task_types},
                            selection_errors=run.selection_errors,
                            memory=getattr(self.registry, "memory", None),
                            offline=self.settings.offline)
        yield from executor.run(run.plan.tasks)

    def _answer(self, run: "_Run"):
        pieces = []
        notes = faults.plan_failures(run.plan.repairs) + run.notes
        for piece in responder.answer(self.controller, run.request, run.record.results(), run.history,
                                      notes=notes):
            run.cancel.check()
            pieces.append(piece)
            yield ev.Token(run.record.run_id, piece)
        run.record.answer = "".join(pieces).strip()


@dataclass
class _Run:
    """One run's state as it moves through the stages."""

    record: RunRecord
    request: str
    files: dict
    modalities: dict
    cancel: CancelToken
    history: list
    review: object = None
    plan: Plan = field(default_factory=Plan)
    selections: dict = field(default_factory=dict)
    selection_errors: dict = field(default_factory=dict)
    pinned: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # what went wrong outside a task, for the answer
