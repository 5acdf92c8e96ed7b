"""The `ion` entry point. `ion sidecar` as a job runs it goes straight to the light sidecar.

A job's sidecar starts with every attempt, so it skips the command-line framework and the other
commands' imports; every other use of `ion` gets the full command.
"""

from __future__ import annotations

import sys


def _standalone_host(argv: list[str]) -> str | None:
    """The --host of a plain `ion sidecar [--host H]`, or None when the full CLI must parse argv."""
    if not argv or argv[0] != "sidecar":
        return None
    rest = argv[1:]
    if not rest:
        return "127.0.0.1"
    if len(rest) == 2 and rest[0] == "--host":
        return rest[1]
    if len(rest) == 1 and rest[0].startswith("--host="):
        return rest[0].split("=", 1)[1]
    return None


def main() -> None:
    host = _standalone_host(sys.argv[1:])
    if host is not None:
        from sidecar.standalone import run_standalone

        sys.exit(run_standalone(host))
    from shared.cli.main import main as full

    full()
