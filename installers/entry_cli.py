"""Entry point of the packaged ``hgpt`` command: the same CLI as ``python -m engine.cli``."""

from __future__ import annotations

import sys

import frozen_env


def main() -> int:
    frozen_env.prepare()
    from engine.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
