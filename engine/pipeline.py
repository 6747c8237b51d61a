"""The four stages as one generator of typed events.

``Engine.run(request, attachments)`` checks its inputs at once (raising a
``UserInputError`` before anything is written), then returns a generator that
plans, selects, executes and answers, yielding ``engine.events`` as it goes and
saving the run record in the run's folder. A ``CancelToken`` stops the run between
steps; the record then says ``cancelled``. With ``review=callback`` the plan waits
for approval after planning: the callback may edit it (``engine.review``), the
edit is validated, and a ``PlanReviewed`` event carries what will run.
"""

from __future__ import annotations

import time
from typing import Iterator, Sequence

from . import attachments as att
from . import events as ev
from . import responder
from .cancel import CancelToken
from .config import Settings, settings as global_settings
from .errors import Cancelled, HgptError, PlanError, UserInputError
from .executor import Executor
from .planner import Planner
from .runs import RunRecord, new_run_dir, peak_rss_mb
from .selector import select

MAX_REQUEST_CHARS = 20_000


class Engine:
    def __init__(self, settings: Settings | None = None, *, controller=None, registry=None,
                 catalog=None, planner: Planner | None = None):
        self.settings = settings or global_settings()
        self._controller = controller
        self._registry = registry
        self._catalog = catalog
        self._planner = planner

    # Heavy parts are built on first use, so the window can appear first.
    @property
    def controller(self):
        if self._controller is None:
            from .llm import load_controller

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
            from .planning import default_planner

            self._planner = default_planner(self.controller, self.registry)
        return self._planner

    def run(self, request: str, attachments: Sequence[str] = (), *,
            cancel: CancelToken | None = None, history: Sequence[dict] = (),
            review=None) -> Iterator[ev.Event]:
        """``review(plan, problems)``, if given, approves or edits the plan before it runs
        (see ``engine.review``); it is called in the thread that iterates the events."""
        request = (request or "").strip()
        if not request:
            raise UserInputError("the request is empty; say what you want done")
        if len(request) > MAX_REQUEST_CHARS:
            raise UserInputError(
                f"the request is {len(request):,} characters; the limit is {MAX_REQUEST_CHARS:,}. "
                "Attach long text as a file or shorten it")
        checked = att.check_all(attachments)
        return self._run(request, checked, cancel or CancelToken(), list(history), review)

    def _run(self, request, checked, cancel, history, review=None) -> Iterator[ev.Event]:
        self._review_cb, self._pinned = review, {}
        run_id, run_dir = new_run_dir(self.settings.runs_dir)
        files, modalities = att.stage(checked, run_dir)
        record = RunRecord(run_id, str(run_dir), request, list(files))
        record.save()
        started = time.perf_counter()
        yield ev.RunStarted(run_id, request, list(files), str(run_dir))
        stage = "plan"
        try:
            record.controller = getattr(self.controller, "name", "")
            for stage, step in (("plan", self._plan), ("review", self._review), ("select", self._select),
                                ("execute", self._execute), ("answer", self._answer)):
                if stage in ("review", "select", "execute") and not self._plan_obj.tasks:
                    continue
                if stage == "review" and self._review_cb is None:
                    continue
                cancel.check()
                yield ev.StageStarted(run_id, stage)
                t0 = time.perf_counter()
                for event in step(record, request, files, modalities, cancel, history):
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
            record.save()
        if record.status == "done":
            yield ev.AnswerDone(run_id, record.answer, record.to_dict())

    # -- stages ---------------------------------------------------------------------
    def _plan(self, record, request, files, modalities, cancel, history):
        plan, seconds = self.planner.plan(request, modalities, history)
        self._plan_obj = plan
        yield ev.PlanReady(record.run_id, plan.to_list(), plan.repairs, plan.raw, seconds)

    def _review(self, record, request, files, modalities, cancel, history):
        from .plan import Plan
        from .review import MAX_REVIEW_ROUNDS, as_reviewed, check

        problems: list[str] = []
        task_types = {t.name: t for t in self.planner.task_types}
        for _ in range(MAX_REVIEW_ROUNDS):
            cancel.check()
            decision = self._review_cb(self._plan_obj, problems)
            cancel.check()
            if decision is None:
                raise Cancelled("the plan was not approved")
            reviewed = as_reviewed(decision, self._plan_obj)
            problems = check(reviewed, task_types, self.registry)
            if not problems:
                break
        else:
            raise PlanError("the reviewed plan still has problems: " + "; ".join(problems))
        old = self._plan_obj
        self._plan_obj = Plan(list(reviewed.tasks), list(old.repairs), old.raw)
        self._pinned = dict(reviewed.models)
        yield ev.PlanReviewed(record.run_id, self._plan_obj.to_list(),
                              {str(k): v for k, v in self._pinned.items()}, reviewed.edited)

    def _select(self, record, request, files, modalities, cancel, history):
        self._selections, self._selection_errors = {}, {}
        for task in self._plan_obj.tasks:
            cancel.check()
            if task.id in self._pinned:
                from .review import pinned_selection

                sel = pinned_selection(task, self._pinned[task.id], self.registry, self.catalog,
                                       self.settings.top_k)
                self._selections[task.id] = sel
                yield ev.ModelSelected(record.run_id, task.id, task.task, sel.model_id, sel.reason,
                                       sel.candidates, sel.seconds)
                continue
            try:
                sel = select(task, request, self.registry, self.catalog, self.controller, self.settings.top_k)
            except HgptError as exc:
                self._selection_errors[task.id] = str(exc)
                continue
            self._selections[task.id] = sel
            yield ev.ModelSelected(record.run_id, task.id, task.task, sel.model_id, sel.reason,
                                   sel.candidates, sel.seconds)

    def _execute(self, record, request, files, modalities, cancel, history):
        executor = Executor(self._selections, run_id=record.run_id, run_dir=record.run_dir_path,
                            attachments=files, controller=self.controller, cancel=cancel,
                            max_workers=self.settings.max_workers,
                            task_types={t.name: t for t in self.planner.task_types},
                            selection_errors=self._selection_errors,
                            memory=getattr(self.registry, "memory", None))
        yield from executor.run(self._plan_obj.tasks)

    def _answer(self, record, request, files, modalities, cancel, history):
        pieces = []
        for piece in responder.answer(self.controller, request, record.results(), history):
            cancel.check()
            pieces.append(piece)
            yield ev.Token(record.run_id, piece)
        record.answer = "".join(pieces).strip()
