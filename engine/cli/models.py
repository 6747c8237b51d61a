"""``hgpt models list|verify|pull``: what models.lock pins, what is on disk, fetching the rest.

``list`` is quick (it checks presence and sizes, no hashing) and ends with a line per
expert plugin that failed to load (``--json``: the ``plugin_errors`` field); ``verify`` recomputes
every sha256 and exits 1 when a file does not match; ``pull NAME --online`` downloads
a Hugging Face model — a lock name or any ``ORG/NAME[@REVISION]`` — with a progress
bar on stderr, pins it in the user lock (``engine.models.pull.pull_model``) and marks
it installed in the catalog. Ctrl-C during a pull stops it cleanly: nothing
half-written becomes visible and the next pull resumes.
"""

from __future__ import annotations

import json
import sys
from functools import partial


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list, verify and download the models hgpt uses")
    p.set_defaults(func=lambda args: _usage(p))
    actions = p.add_subparsers(dest="models_command", metavar="ACTION")
    ls = actions.add_parser("list", help="every model in models.lock, whether it is installed, "
                                         "and the expert plugins that failed to load")
    ls.add_argument("--json", action="store_true",
                    help='print JSON: {"models": [...], "plugin_errors": {plugin: message}}')
    ls.set_defaults(func=run_list)
    vf = actions.add_parser("verify", help="recompute the sha256 of installed model files")
    vf.add_argument("names", nargs="*", metavar="NAME", help="only these models")
    vf.add_argument("--json", action="store_true", help="print JSON")
    vf.set_defaults(func=run_verify)
    pl = actions.add_parser("pull", help="download a Hugging Face model into the hub cache, verified and pinned")
    pl.add_argument("name", metavar="NAME", help="a name from 'hgpt models list', or any Hub model id "
                    "ORG/NAME[@REVISION] (a branch, tag or commit; pinned in the user lock on first pull)")
    pl.add_argument("--online", action="store_true", help="allow the network for this command")
    pl.add_argument("--include", action="append", default=[], metavar="GLOB",
                    help="only the repo's files matching GLOB (repeatable), e.g. one GGUF of many")
    pl.set_defaults(func=run_pull)


def _usage(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _size(entry) -> str:
    if not entry.files or any(f.size == 0 for f in entry.files):
        return "?"
    mb = entry.size_mb
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB" if mb >= 1 else f"{entry.size_bytes / 1024:.0f} KB"


def _tasks(entry) -> str:
    shown = ",".join(entry.tasks[:2])
    return shown + ("…" if len(entry.tasks) > 2 else "")


def plugin_errors() -> dict[str, str]:
    """Expert plugins that failed to load (entry point name -> message), from a registry
    built the way the engine builds it."""
    from ..experts.registry import build_registry
    from ..settings import load_settings

    return dict(build_registry(load_settings()).plugin_errors)


def run_list(args) -> int:
    from ..models import load_lock
    from ..models.verify import check_presence

    lock = load_lock()
    rows = [{"name": e.name, "tasks": list(e.tasks), "source": e.source, "size_bytes": e.size_bytes,
             "licence": e.licence, "state": check_presence(e), "pinned": e.verified, "optional": e.optional}
            for e in lock]
    errors = plugin_errors()
    if args.json:
        print(json.dumps({"models": rows, "plugin_errors": errors}, indent=2))
        return 0
    table = [("NAME", "TASK", "SOURCE", "SIZE", "LICENCE", "STATE", "SHA256")]
    table += [(e.name, _tasks(e), e.source, _size(e), e.licence, r["state"], "pinned" if e.verified else "-")
              for e, r in zip(lock, rows)]
    _print_table(table)
    if errors:
        print()
    for name, message in errors.items():
        print(f"expert plugin {name} failed to load: {message}")
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [min(max(len(r[i]) for r in rows), 42) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths)]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())


def run_verify(args) -> int:
    from ..models import MISMATCH, verify

    checks = verify(names=args.names or None)
    if args.json:
        print(json.dumps([{"name": c.entry.name, "status": c.status, "message": c.message()} for c in checks],
                         indent=2))
    else:
        for check in checks:
            print(f"{check.status:<13} {check.entry.name}")
        counts = {s: sum(c.status == s for c in checks) for s in ("verified", "unverifiable", "missing", MISMATCH)}
        print(", ".join(f"{n} {s}" for s, n in counts.items()))
        for check in checks:
            if check.status == MISMATCH:
                print(f"hgpt: {check.message()}", file=sys.stderr)
    return 1 if any(c.status == MISMATCH for c in checks) else 0


def run_pull(args) -> int:
    from tqdm import tqdm

    from ..models.pull import pull_model

    bar = partial(tqdm, file=sys.stderr, dynamic_ncols=True, mininterval=0.2)
    try:
        report = pull_model(args.name, offline=False if args.online else None, tqdm_class=bar,
                            include=tuple(args.include))
    except KeyboardInterrupt:
        print("\nhgpt: cancelled; nothing half-downloaded was installed. Run the same command to resume.",
              file=sys.stderr)
        return 130
    pulled = report.files
    if not pulled:
        print(f"{args.name}: models.lock lists no files for it")
        return 0
    total = sum(p.path.stat().st_size for p in pulled)
    fetched = sum(p.downloaded for p in pulled)
    unpinned = [p.file.path for p in pulled if not p.file.sha256]
    snapshot = pulled[0].path.parents[pulled[0].file.path.count("/")]
    print(f"{report.name}: {len(pulled)} files ({total / 2**20:.1f} MB), {fetched} downloaded, in {snapshot}")
    if report.previous:
        print(f"  the pin moved from commit {report.previous[:12]} to {report.commit[:12]}")
    if report.recorded is not None:
        print(f"  pinned at commit {report.commit[:12]} with every file's sha256 in {report.recorded} "
              "(checked at every load)")
    elif unpinned:
        print(f"  not verified (models.lock has no sha256 for): {', '.join(unpinned)}")
    _mark_installed()
    return 0


def _mark_installed() -> None:
    """The catalog learns the model is here now (so selection offers it)."""
    from ..catalog import open_catalog
    from ..experts.registry import build_registry
    from ..settings import load_settings

    settings = load_settings()
    try:
        open_catalog(settings.catalog_path, build_registry(settings)).close()
    except Exception as exc:  # noqa: BLE001 - the model is installed; the catalog catches up at the next start
        print(f"hgpt: the catalog was not refreshed ({exc}); it will be at the next start", file=sys.stderr)
