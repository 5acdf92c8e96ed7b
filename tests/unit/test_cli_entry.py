"""`ion sidecar` as jobs run it takes the light path; everything else gets the full command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli.entry import _standalone_host

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "host"),
    [
        (["sidecar"], "127.0.0.1"),
        (["sidecar", "--host", "0.0.0.0"], "0.0.0.0"),
        (["sidecar", "--host=::1"], "::1"),
        (["sidecar", "--development"], None),
        (["sidecar", "--help"], None),
        (["trace", "x"], None),
        ([], None),
    ],
)
def test_only_plain_sidecar_invocations_take_the_light_path(argv: list[str], host: str | None) -> None:
    assert _standalone_host(argv) == host


def test_light_path_skips_the_cli_framework_and_names_missing_variables() -> None:
    script = (
        "import sys\n"
        "sys.argv = ['ion', 'sidecar']\n"
        "from shared.cli import entry\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit as stop:\n"
        "    print(stop.code, 'typer' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SHARED_SECRET", "ION_EVENT_ID")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"]
    assert "invalid environment" in done.stderr and "SHARED_SECRET" in done.stderr
