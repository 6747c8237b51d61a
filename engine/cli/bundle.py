"""``hgpt bundle export --models NAME… [--catalog] --out FILE`` and ``hgpt bundle import FILE``.

Carry models (and the catalog) to a machine without network: ``export`` writes one
archive with the model files, their lock entries and optionally the catalog;
``import`` checks every file's sha256 against the bundle's lock before anything
becomes visible, then installs it (``engine.bundle``). A truncated, tampered, newer
or too big bundle is refused in one line (exit 2) and nothing is installed.
"""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser("bundle", help="air-gap bundles: carry models to a machine without network")
    actions = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    ex = actions.add_parser("export", help="write models (and the catalog) into one archive")
    ex.add_argument("--models", nargs="+", default=[], metavar="NAME",
                    help="models to carry: names from 'hgpt models list', or Hub ids in the hub cache")
    ex.add_argument("--catalog", action="store_true", help="also carry the model catalog's cards")
    ex.add_argument("--out", required=True, metavar="FILE", help="the archive to write (e.g. models.hgptbundle)")
    ex.set_defaults(func=run_export)
    im = actions.add_parser("import", help="verify a bundle and install what it carries")
    im.add_argument("file", metavar="FILE")
    im.set_defaults(func=run_import)


def run_export(args) -> int:
    from ..bundle import describe, export_bundle
    from ..settings import load_settings

    settings = load_settings()
    catalog = settings.catalog_path if args.catalog else None
    if catalog is not None and not catalog.exists():
        from ..errors import UserInputError

        raise UserInputError(f"there is no catalog at {catalog} yet; start hgpt once, or leave out --catalog")
    manifest = export_bundle(args.models, args.out, catalog_path=catalog)
    print(f"wrote {args.out}: {describe(manifest)}")
    for model in manifest["models"]:
        print(f"  {model['name']}  ({model['kind']}, {len(model['files'])} files)")
    return 0


def run_import(args) -> int:
    from ..bundle import import_bundle
    from ..settings import load_settings

    settings = load_settings()
    report = import_bundle(args.file, home=settings.home, catalog_path=settings.catalog_path)
    for model in report.models:
        size = f", {model.bytes / 2**20:.1f} MB" if model.bytes else ""
        print(f"  {model.name}: {model.state} ({model.kind}, {model.files} files{size})")
    if report.catalog_cards:
        print(f"  catalog: {report.catalog_cards:,} cards")
    if report.user_lock is not None:
        print(f"  pinned in {report.user_lock}")
    print("imported; every file matched the bundle's lock", file=sys.stderr)
    return 0
