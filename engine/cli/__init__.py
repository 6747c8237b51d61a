"""The ``hgpt`` command. Each sub-command lives in its own module with ``add_parser``.

Exit codes: 0 success, 1 the run failed, 2 bad input or usage, 130 cancelled, 141 the
output's reader went away (``| head``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sqlite3
import sys

from ..errors import HgptError

SUBCOMMANDS = ["engine.cli.ask", "engine.cli.plan", "engine.cli.calibrate", "engine.cli.models", "engine.cli.catalog",
               "engine.cli.serve", "engine.cli.mcp"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hgpt", description="HuggingGPT on your laptop, offline.")
    parser.add_argument("--verbose", "-v", action="store_true", help="log what the engine does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)
    return parser


SUBCOMMANDS += ["engine.cli.runs", "engine.cli.chats", "engine.cli.bundle"]  # recorded runs, chats, air-gap bundles


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HgptError as exc:
        print(f"hgpt: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hgpt: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:  # what reads the output went away ('| head'): not the data folder's fault
        _quiet_stdout()
        return 141
    except (OSError, sqlite3.Error) as exc:  # the data folder could not be written
        from ..faults import storage_message

        print(f"hgpt: {storage_message(exc, 'its data')}", file=sys.stderr)
        return 1


def _quiet_stdout() -> None:
    """Point stdout at the null device, so flushing it at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
