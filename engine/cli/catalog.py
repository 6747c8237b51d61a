"""``hgpt catalog``: search, show, import, sync, count and rebuild the model catalog.

Each action is a small function over ``engine.catalog``; output is a plain table
for people, ``--json`` for scripts. Errors are ``HgptError``s, which the ``hgpt``
entry point prints as one line and turns into exit code 2.
"""

from __future__ import annotations

import json
import sys

from ..errors import UserInputError
from ..text import clip


def add_parser(sub) -> None:
    p = sub.add_parser("catalog", help="the catalog of model cards that model selection reads")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    s = actions.add_parser("search", help="full-text search over ids, descriptions and tags")
    s.add_argument("query", help="words to look for, e.g. \"sentiment finance\"")
    s.add_argument("--task", "-t", help="only models serving this task type")
    s.add_argument("--limit", "-n", type=int, default=10)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=search)

    t = actions.add_parser("top", help="the most downloaded models for a task (what selection sees)")
    t.add_argument("task")
    t.add_argument("--limit", "-n", type=int, default=5)
    t.add_argument("--installed", action="store_true", help="only models installed here")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=top)

    sh = actions.add_parser("show", help="every field of one model card")
    sh.add_argument("model_id")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=show)

    i = actions.add_parser("import", help="import cards from a JSONL file (HuggingGPT or Hub API format)")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=import_)

    y = actions.add_parser("sync", help="fetch the most downloaded models' cards from the Hub API")
    y.add_argument("--online", action="store_true", help="allow network use for this command")
    y.add_argument("--limit", "-n", type=int, default=1000, help="how many models (default 1000)")
    y.add_argument("--endpoint", help="Hub address (default: $HF_ENDPOINT or https://huggingface.co)")
    y.add_argument("--restart", action="store_true", help="start over instead of resuming")
    y.set_defaults(func=sync)

    st = actions.add_parser("stats", help="counts by task, installed models, size of the database")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=stats)

    r = actions.add_parser("rebuild", help="move the catalog file aside and build a fresh one")
    r.set_defaults(func=rebuild)


# -- actions -------------------------------------------------------------------------
def search(args) -> int:
    _positive(args.limit)
    cards = _open().search(args.query, task=args.task, limit=args.limit)
    if args.json:
        return _dump(cards)
    if not cards:
        print(f"no model matches {args.query!r}" + (f" for {args.task}" if args.task else ""))
        return 0
    _table(cards, ["id", "task", "downloads", "likes", "installed", "description"])
    return 0


def top(args) -> int:
    _positive(args.limit)
    cards = _open().top_k(args.task, args.limit, installed=True if args.installed else None)
    if args.json:
        return _dump(cards)
    if not cards:
        print(f"no model in the catalog serves {args.task!r}; see: hgpt catalog stats")
        return 0
    _table(cards, ["id", "downloads", "likes", "licence", "size_mb", "installed", "description"])
    return 0


def show(args) -> int:
    catalog = _open()
    card = catalog.get(args.model_id)
    if card is None:
        similar = [c["id"] for c in catalog.search(args.model_id.replace("/", " "), limit=5)]
        hint = f"; similar: {', '.join(similar)}" if similar else ""
        raise UserInputError(f"no model {args.model_id!r} in the catalog{hint}. "
                             "Look one up with: hgpt catalog search WORDS")
    if args.json:
        return _dump(card)
    width = max(map(len, card))
    for key, value in card.items():
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        print(f"{key:<{width}}  {'' if value is None else value}")
    return 0


def import_(args) -> int:
    from tqdm import tqdm

    from ..catalog.importer import import_file

    with tqdm(unit="card", file=sys.stderr, desc="import", disable=None) as bar:
        report = import_file(_open(), args.file, progress=lambda n: bar.update(n - bar.n))
    if args.json:
        _dump({"imported": report.imported, "skipped": report.skipped, "seconds": round(report.seconds, 3)})
    else:
        print(report.summary())
    if report.imported == 0:
        print(f"hgpt: nothing was imported from {args.file}; each line must be a JSON object with an 'id'",
              file=sys.stderr)
        return 2
    return 0


def sync(args) -> int:
    from ..catalog import hub
    from ..settings import load_settings

    stream = hub.sync(_open(), limit=args.limit, endpoint=args.endpoint, restart=args.restart,
                      offline=load_settings().offline and not args.online)
    from tqdm import tqdm

    bar, last = tqdm(total=args.limit, unit="card", file=sys.stderr, desc="sync"), None
    try:
        for last in stream:
            bar.n = last.fetched
            bar.refresh()
    except KeyboardInterrupt:
        bar.close()
        print(f"hgpt: sync interrupted after {bar.n:,} cards; run hgpt catalog sync again to resume",
              file=sys.stderr)
        return 130
    bar.close()
    endpoint = args.endpoint or hub.default_endpoint()
    resumed = " (resumed an interrupted sync)" if last and last.resumed else ""
    print(f"synced {last.fetched if last else 0:,} model cards from {endpoint}{resumed}")
    return 0


def stats(args) -> int:
    info = _open().stats()
    if args.json:
        return _dump(info)
    print(f"{info['models']:,} models in {info['path']} ({info['size_bytes'] / 1e6:.1f} MB)")
    print(f"installed here: {info['installed']:,}   pinned in models.lock: {info['pinned']:,}   "
          f"with a known runtime: {info['with_runtime']:,}")
    if info["last_sync"]:
        s = info["last_sync"]
        state = f"finished {s['finished_at']}" if s["finished_at"] else f"unfinished, updated {s['updated_at']}"
        print(f"last sync: {s['fetched']:,} cards from {s['endpoint']} ({state})")
    print(f"migrations applied: {', '.join(map(str, info['migrations']))}")
    if info["by_task"]:
        print()
        _table([{"task": t, "models": n} for t, n in info["by_task"].items()], ["task", "models"])
    return 0


def rebuild(args) -> int:
    from ..catalog import rebuild_catalog
    from ..experts.registry import build_registry
    from ..settings import load_settings

    settings = load_settings()
    aside, catalog = rebuild_catalog(settings.catalog_path, build_registry(settings))
    if aside:
        print(f"moved the old catalog to {aside}")
    print(f"rebuilt {catalog.path}: {catalog.count():,} models from the installed packs and the "
          "Hugging Face cache. Add more with: hgpt catalog import FILE, or hgpt catalog sync --online")
    return 0


# -- helpers -------------------------------------------------------------------------
def _open():
    from ..catalog import open_catalog
    from ..experts.registry import build_registry
    from ..settings import load_settings

    settings = load_settings()
    return open_catalog(settings.catalog_path, build_registry(settings))


def _positive(n: int) -> None:
    if n < 1:
        raise UserInputError(f"--limit must be at least 1, not {n}")


def _dump(value) -> int:
    print(json.dumps(value, indent=2, ensure_ascii=False))
    return 0


def _human(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int) and value >= 10_000:
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if value >= size:
                return f"{value / size:.1f}{unit}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value else ""
    return str(value)


def _table(rows: list[dict], columns: list[str], max_width: int = 60) -> None:
    cells = [[clip(_human(r.get(c, "")), max_width) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


