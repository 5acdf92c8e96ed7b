"""`ion sidecar` refuses bad options before it opens anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from shared.cli.sidecar import register


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("other")
    def other() -> None:  # a second command, so typer keeps `sidecar` as a sub-command
        pass

    return app


@pytest.mark.parametrize(("args", "message"), [
    (["sidecar", "--port", "9000"], "--port only apply with --development"),
    (["sidecar", "-d", "a=b", "--keep-running"], "--data, --keep-running only apply with --development"),
    (["sidecar", "--development", "--module", "Bad_Name"], "is not a module name"),
    (["sidecar", "--development", "--event-type", "no spaces"], "is not an event type"),
    (["sidecar", "--development", "--publishes", "ok,not ok"], "'not ok' is not an event type"),
    (["sidecar", "--development", "-d", "novalue"], "'novalue' must be KEY=VALUE"),
    (["sidecar", "--development", "-f", "/does/not/exist"], "does not exist"),
])
def test_bad_options_are_refused(app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 args: list[str], message: str) -> None:
    monkeypatch.setenv("ION_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    # Rich draws the error in a box that may wrap lines: compare the words only.
    words = " ".join(result.output.replace("│", " ").split())
    assert message in words, result.output
    assert not (tmp_path / "home").exists()  # nothing was created
