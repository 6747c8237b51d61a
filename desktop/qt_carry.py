"""Repeating and carrying from the window: "Re-run from here" and chat export/import.

``Carry`` is the main window's helper for these (the window keeps one and calls it
from its menus and the plan panel):

* ``rerun_from(task_id)`` opens the plan review editor on the run the plan panel
  shows, with each task's recorded arguments and model; Run starts
  ``Engine.rerun`` from that task with what was changed (``engine.Changes.between``),
  in a worker like any run, so the chat and the plan draw its events (the tasks it
  keeps carry the "cached" badge);
* ``export(fmt)`` writes the open conversation to a folder as Markdown or JSON
  (``engine.export_chat``), ``import_(path)`` restores a JSON export as a new
  conversation (``engine.import_chat``); both run as background jobs and say how it
  went in a banner.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QFileDialog

from engine import CancelToken, Changes, HgptError, PlanDraft, export_chat, import_chat

from .worker import Job, RunWorker


class Carry(QObject):
    """Lives in the UI thread: the jobs' results arrive through its slots there."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.pending: dict | None = None  # a re-run waiting in the review editor
        self.default_title = window.review.title.text()
        self.jobs: list[Job] = []

    # -- re-run from a task ---------------------------------------------------------------------
    def rerun_from(self, task_id: int | None = None) -> bool:
        """Open the review editor for a re-run from ``task_id`` (default: the selected task)."""
        w = self.window
        task_id = w.plan.selected if task_id is None else task_id
        if w.worker is not None:
            w.chat.show_banner("A run is going; wait for it (or stop it with Esc) before re-running.", "info")
            return False
        if task_id is None or not w.plan.run_id:
            w.chat.show_banner("Select a task of a finished run in the plan to re-run from it.", "info")
            return False
        engine = w.host.get()
        try:
            recorded = engine.recorded_run(w.plan.run_id)
            draft = PlanDraft.from_list(recorded.record["plan"], engine.task_types, engine.registry)
        except HgptError as exc:
            w.chat.show_banner(str(exc))
            return False
        models = {t.id: recorded.model_of(t.id) for t in draft.tasks}
        for tid, model in models.items():
            if model and model in engine.registry:
                draft.set_model(tid, model)
        self.pending = {"run_id": recorded.run_id, "task_id": int(task_id), "plan": recorded.record["plan"],
                        "models": models, "request": recorded.record.get("request", "")}
        w.review.title.setText(f"<b>Re-run from task {task_id}</b> — change its arguments or model (or a later "
                               "task's), then Run. The tasks before it keep their results.")
        was_hidden = not w.review.isVisible()
        w.review.start(draft)
        if was_hidden:
            height = w.right.height()
            w.right.setSizes([height // 3, height - height // 3])
        w.tabs.setCurrentIndex(0)
        return True

    def take_review(self, decision) -> bool:
        """The review editor's answer, if it was opened for a re-run (True: handled here)."""
        if self.pending is None:
            return False
        pending, self.pending = self.pending, None
        self.window.review.title.setText(self.default_title)
        if decision is None:  # the user closed the editor: nothing runs
            return True
        try:
            changes = Changes.between(pending["plan"], decision, pending["models"])
        except HgptError as exc:
            self.window.chat.show_banner(str(exc))
            return True
        self.start_rerun(pending["run_id"], pending["task_id"], changes, pending["request"])
        return True

    def start_rerun(self, run_id: str, task_id: int, changes, request: str = "") -> RunWorker:
        w = self.window
        w._to_chat()
        w.chat.add_user(request, [])
        w.chat.begin_answer()

        def start(cancel):
            return w.host.ready().rerun(run_id, task_id, changes, cancel=cancel)

        w.worker = RunWorker(start, CancelToken())
        w.worker.event.connect(w.on_event)
        w.worker.failed.connect(w.on_failed)
        w.worker.finished.connect(w.on_finished)
        w.chat.composer.set_running(True)
        w.worker.start()
        return w.worker

    # -- chat export and import -----------------------------------------------------------------
    def export(self, fmt: str, folder: str | None = None) -> Job | None:
        w = self.window
        if w.conversation_id is None:
            w.chat.show_banner("Open a conversation to export it.", "info")
            return None
        if folder is None:
            kind = "Markdown" if fmt == "md" else "JSON"
            folder = QFileDialog.getExistingDirectory(w, f"Export the chat as {kind} into a folder")
            if not folder:
                return None
        store, cid = w.store, w.conversation_id
        return self._job(lambda: export_chat(store, cid, folder, fmt), "hgpt-export", self._exported)

    @Slot(object)
    def _exported(self, path) -> None:
        self.window.chat.show_banner(f"Exported to {path}, its files beside it.", "info")

    def import_(self, path: str | None = None) -> Job | None:
        w = self.window
        if path is None:
            path, _ = QFileDialog.getOpenFileName(w, "Import a chat exported as JSON", "",
                                                  "hgpt chat export (*.json);;All files (*)")
            if not path:
                return None
        store, runs_dir = w.store, w.settings.runs_dir
        return self._job(lambda: import_chat(store, path, runs_dir), "hgpt-import", self._imported)

    @Slot(object)
    def _imported(self, conversation) -> None:
        w = self.window
        w.conversations.reload(select=conversation.id)
        w.open_conversation(conversation.id)
        w.chat.show_banner(f"Imported “{conversation.title}”.", "info")

    def _job(self, fn, name: str, done) -> Job:
        job = Job(fn, name)
        job.then(self.window, done, self.window.chat.show_banner)
        self.jobs = [j for j in self.jobs if j.thread.isRunning()] + [job]
        return job.start()
