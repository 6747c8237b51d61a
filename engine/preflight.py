"""Pre-flight: what a plan needs, checked before any expert runs.

``check`` takes the plan's tasks and their selections and says, per task: the chosen
model, whether it is installed (or runs at an inference endpoint), its download size,
its estimated memory and the peak the plan reaches while it runs — the controller plus
the other experts the schedule keeps loaded then (``engine.schedule``, the same rule
the memory manager follows at run time) — and a verdict:

* ``runs`` — installed, fits the memory budget;
* ``remote`` — runs at the inference endpoint (hybrid or remote mode);
* ``download`` — not installed but can be pulled: the size and the exact command;
* ``no disk`` — would need a download larger than the free disk;
* ``too large`` — more memory than the whole budget (the manager would refuse it);
  a model that fits alone but not beside the experts of the tasks running at the same
  time is ``tight``, and its words say with which;
* ``no model`` — nothing installed, pullable or remote is known for the task type.

A task selection found no model for gets the catalog's most downloaded pullable model
for its task type (or the one models.lock pins) as the suggestion. The whole check is
arithmetic over what is on disk and in the catalog: no expert is loaded and nothing is
downloaded (``scripts/bench_preflight`` measures it).

``likely_selections`` gives the selections a plan would probably get without asking
the controller (the most downloaded candidate), for a pre-flight before selection:
inside plan review and in ``hgpt plan``. Such a check is ``provisional``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .memory import TIGHT, TOO_LARGE, estimate_mb, fit, total_memory_mb
from .ondemand import MEMORY_FACTOR, PendingExpert, pullable
from .schedule import simulate, steps

RUNS, REMOTE, DOWNLOAD, NO_DISK, TOO_BIG, NO_MODEL = "runs", "remote", "download", "no disk", "too large", "no model"
STOPPING = (DOWNLOAD, NO_DISK)  # verdicts a download fixes (hgpt ask stops on them and says what to run)
MB = 2**20


@dataclass
class TaskCheck:
    task_id: int
    task: str
    model_id: str
    verdict: str
    words: str  # the verdict for people: "needs a download of 340 MB"
    installed: bool = False
    where: str = "here"  # "here", an endpoint's address, or "" (no model)
    download_mb: float | None = 0.0  # None: not known
    memory_mb: float = 0.0
    peak_mb: float = 0.0
    fit: str = ""  # fits | tight | too large (engine.memory.fit)
    load: str = ""  # loads | loaded | none (engine.schedule)
    kept: bool = False  # stays loaded for a later task
    command: str = ""  # what gets the model: "hgpt models pull ORG/NAME --online"
    spec: str = ""  # what pull takes for it (a models.lock name or a Hub id)
    suggested: bool = False  # selection found no model; this is the catalog's suggestion

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Preflight:
    tasks: list[TaskCheck] = field(default_factory=list)
    budget_mb: float = 0.0
    controller_mb: float = 0.0
    peak_mb: float = 0.0
    memory_total_mb: float = 0.0
    disk_free_mb: float | None = None
    loads: int = 0
    seconds: float = 0.0
    provisional: bool = False

    @property
    def missing(self) -> list[TaskCheck]:
        """Tasks whose model a download would bring."""
        return [t for t in self.tasks if t.verdict in STOPPING]

    @property
    def download_mb(self) -> float:
        seen, total = set(), 0.0
        for t in self.missing:
            if t.model_id not in seen:
                seen.add(t.model_id)
                total += t.download_mb or 0.0
        return total

    @property
    def commands(self) -> list[str]:
        return list(dict.fromkeys(t.command for t in self.missing if t.command))

    @property
    def ok(self) -> bool:
        return all(t.verdict in (RUNS, REMOTE) for t in self.tasks)

    def summary(self) -> dict:
        return {"budget_mb": _round(self.budget_mb), "controller_mb": round(self.controller_mb, 1),
                "peak_mb": round(self.peak_mb, 1), "memory_total_mb": round(self.memory_total_mb, 1),
                "disk_free_mb": _round(self.disk_free_mb), "download_mb": round(self.download_mb, 1),
                "loads": self.loads, "commands": self.commands, "seconds": round(self.seconds, 4),
                "provisional": self.provisional, "ok": self.ok}

    def to_dict(self) -> dict:
        return {"tasks": [t.to_dict() for t in self.tasks], "summary": self.summary()}

    def stop_message(self) -> str:
        """One line: what is missing and exactly what to run."""
        parts = [f"task {t.task_id} ({t.task}) needs {t.model_id}"
                 + (f" ({_mb(t.download_mb)})" if t.download_mb else "") for t in self.missing]
        run = " and ".join(self.commands)
        return (f"models are missing — {'; '.join(parts)}. Run: {run}; or ask again with --pull --online "
                "to download them and run")


def _round(value):
    return None if value is None or value == float("inf") else round(value, 1)


def _mb(mb: float | None) -> str:
    if mb is None:
        return "size unknown"
    return f"{mb / 1024:,.1f} GB" if mb >= 1024 else f"{mb:,.0f} MB" if mb >= 1 else f"{mb * 1024:,.0f} KB"


def controller_mb(controller) -> float:
    """What the controller takes in memory: its GGUF's size and a margin; 0 for a server."""
    path = getattr(controller, "path", None)
    if path is None:
        return 0.0
    try:
        return Path(path).stat().st_size / MB * MEMORY_FACTOR
    except OSError:
        return 0.0


def disk_free_mb() -> float | None:
    from .models.paths import hf_cache_dir
    from .models.pull import free_bytes

    free = free_bytes(hf_cache_dir())
    return None if free is None else free / MB


# -- suggestions for tasks selection found no model for -------------------------------------------
def suggestion(task: str, catalog) -> PendingExpert | None:
    """The most downloaded pullable model the catalog knows for ``task``, else the one
    models.lock pins for it; None when neither knows one."""
    if catalog is not None:
        from .catalog.db import CatalogCorruptError

        try:
            cards = catalog.top_k(task, 20, installed=False)
        except CatalogCorruptError:
            cards = []
        card = next((c for c in cards if pullable(c)), None)
        if card is not None:
            return PendingExpert(card["id"], (task,), card=card)
    try:
        from .models.lock import load_lock
        from .models.verify import check_presence

        entry = next((e for e in load_lock() if e.kind == "hf" and task in e.tasks
                      and check_presence(e) != "installed"), None)
    except Exception:  # noqa: BLE001 - a broken lock must not stop a pre-flight
        entry = None
    if entry is None:
        return None
    return PendingExpert(entry.repo or entry.name, (task,), size_mb=entry.size_mb,
                         card={"licence": entry.licence, "runtime": entry.runtime}, spec=entry.name)


# -- the check --------------------------------------------------------------------------------------
def check(tasks, selections: dict, errors: dict | None = None, *, catalog=None, budget_mb: float = float("inf"),
          controller=None, loaded: dict | None = None, max_workers: int = 2,
          provisional: bool = False) -> Preflight:
    """The pre-flight of ``tasks`` (``Task`` objects or dicts) given their ``selections``
    (task id -> ``Selection``); ``loaded`` is what the memory manager holds now (model id -> MB)."""
    started = time.perf_counter()
    experts: dict[int, object] = {}
    suggested: set[int] = set()
    for task in tasks:
        tid, name = _id(task), _task(task)
        selection = selections.get(tid)
        if selection is not None:
            experts[tid] = selection.expert
        else:
            pending = suggestion(name, catalog)
            if pending is not None:
                experts[tid] = pending
                suggested.add(tid)
    sizes = {tid: _memory(expert) for tid, expert in experts.items()}
    models = {tid: (expert.model_id, sizes[tid]) for tid, expert in experts.items() if sizes[tid] > 0
              or _where(expert) == "here"}
    ctrl = controller_mb(controller)
    plan = simulate(steps(tasks, max_workers), models, budget_mb, ctrl, loaded)
    disk = disk_free_mb() if any(isinstance(e, PendingExpert) for e in experts.values()) else None
    report = Preflight(budget_mb=budget_mb, controller_mb=ctrl, peak_mb=plan.peak_mb,
                       memory_total_mb=total_memory_mb(), disk_free_mb=disk, loads=plan.loads,
                       provisional=provisional)
    need_disk = 0.0
    for task in tasks:
        tid, name = _id(task), _task(task)
        expert = experts.get(tid)
        memory = plan.tasks.get(tid)
        if expert is None:
            why = (errors or {}).get(tid) or f"no model for {name} is installed or known"
            report.tasks.append(TaskCheck(tid, name, "", NO_MODEL, _first_sentence(why), where="",
                                          peak_mb=memory.peak_mb if memory else ctrl))
            continue
        row = TaskCheck(tid, name, expert.model_id, RUNS, "runs", installed=True, memory_mb=round(sizes[tid], 1),
                        peak_mb=memory.peak_mb if memory else ctrl, load=memory.load if memory else "none",
                        kept=bool(memory and memory.kept), suggested=tid in suggested)
        row.fit = fit(row.memory_mb, budget_mb, ctrl) if row.memory_mb else ""
        where = _where(expert)
        if where != "here":
            row.where, row.verdict, row.installed = where, REMOTE, False
            row.words = f"runs at {where}" + (f" (else here: {expert.fallback.model_id})"
                                              if getattr(expert, "fallback", None) is not None else "")
        elif isinstance(expert, PendingExpert):
            row.installed, row.spec, row.command = False, expert.spec, expert.command
            row.download_mb = round(expert.size_mb, 1) if expert.size_mb else None
            row.verdict, row.words = DOWNLOAD, (f"needs a download of {_mb(row.download_mb)}" if row.download_mb
                                                else "needs a download (size unknown)")
            if row.download_mb and expert.model_id not in {t.model_id for t in report.tasks if t.verdict in STOPPING}:
                need_disk += row.download_mb
            if disk is not None and need_disk > disk:
                row.verdict, row.words = NO_DISK, f"needs {_mb(row.download_mb)} of disk, {_mb(disk)} free"
        if row.fit == TOO_LARGE and row.verdict in (RUNS, DOWNLOAD):
            row.verdict = TOO_BIG
            row.words = (f"too large for the memory budget: needs about {_mb(row.memory_mb)}, the budget is "
                         f"{_mb(budget_mb)} (raise memory_budget_mb in Settings or pick a smaller model)")
        elif memory is not None and memory.over_budget and row.verdict in (RUNS, DOWNLOAD):
            row.fit = TIGHT
            row.words += (f"; with {', '.join(memory.with_models)} loaded beside it (the tasks run at the same "
                          f"time) the experts exceed the {_mb(budget_mb)} memory budget")
        report.tasks.append(row)
    report.seconds = time.perf_counter() - started
    return report


def _first_sentence(text: str) -> str:
    return " ".join(str(text).split())[:300]


def _id(task) -> int:
    return int(task["id"] if isinstance(task, dict) else task.id)


def _task(task) -> str:
    return str(task["task"] if isinstance(task, dict) else task.task)


def _where(expert) -> str:
    endpoint = getattr(expert, "endpoint", None)
    return endpoint.name if endpoint is not None else "here"


def _memory(expert) -> float:
    if _where(expert) != "here":
        return 0.0
    try:
        return float(estimate_mb(expert))
    except Exception:  # noqa: BLE001 - an expert that cannot say: unknown, counted as 0
        return 0.0


# -- before selection -----------------------------------------------------------------------------
def likely_selections(tasks, registry, catalog, k: int = 5, source=None, clauses=None, embed=None) -> tuple[dict, dict]:
    """(task id -> ``Selection``, task id -> error) with the most downloaded candidate of each
    task, as selection would offer them, without asking the controller: given ``clauses``
    (task id -> the words that asked for it) and ``embed``, among the experts that can do it."""
    from .errors import HgptError
    from .select import Selection, candidates_for, no_candidates

    chosen, errors = {}, {}
    for task in tasks:
        try:
            cards = candidates_for(task, registry, catalog, k, (clauses or {}).get(task.id, ""), embed, source)
            if not cards and clauses is not None and registry.for_task(task.task):
                raise no_candidates(task, registry, catalog)
        except HgptError as exc:
            errors[task.id] = str(exc)
            continue
        if not cards:
            continue
        card = cards[0]
        expert = (source.expert(card["id"], card, task.task, registry) if source is not None
                  else registry.get(card["id"]))
        chosen[task.id] = Selection(task.id, card["id"], "the most downloaded candidate (the controller may pick "
                                    "another)", expert, cards)
    return chosen, errors


def lines(tasks: list[dict], summary: dict) -> list[str]:
    """A pre-flight (a ``PreflightReady``'s tasks and summary, or ``Preflight.to_dict()``'s) as text."""
    budget = "no memory budget" if summary.get("budget_mb") is None else f"memory budget {_mb(summary['budget_mb'])}"
    disk = summary.get("disk_free_mb")
    head = (f"pre-flight{' (likely models)' if summary.get('provisional') else ''}: {budget}, controller "
            f"{_mb(summary.get('controller_mb', 0))}, peak {_mb(summary.get('peak_mb', 0))}"
            + (f", disk {_mb(disk)} free" if disk is not None else "")
            + f" ({summary.get('seconds', 0) * 1000:.1f} ms)")
    out = [head]
    for t in tasks:
        state = ("remote" if t["verdict"] == REMOTE else "installed" if t["installed"]
                 else "not installed" if t["model_id"] else "")
        memory = f"{_mb(t['memory_mb'])} in memory" if t["memory_mb"] else ""
        peak = f"peak {_mb(t['peak_mb'])}" if t["model_id"] and t["verdict"] != REMOTE else ""
        detail = ", ".join(x for x in (state, memory, peak) if x)
        out.append(f"  [{t['task_id']}] {t['task']} → {t['model_id'] or '(no model)'}"
                   + (f" ({detail})" if detail else "") + f": {t['words']}"
                   + (f" — run: {t['command']}" if t.get("command") and t["verdict"] in STOPPING else ""))
    if summary.get("commands"):
        known = summary.get("download_mb") or 0
        unknown = any(t["verdict"] in STOPPING and not t.get("download_mb") for t in tasks)
        size = (_mb(known) + (" and more (some sizes unknown)" if unknown else "")) if known else "size unknown"
        out.append(f"  to download: {size} — " + "; ".join(summary["commands"]))
    return out
