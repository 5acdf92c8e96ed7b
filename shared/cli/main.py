"""`ion`: run the local platform, publish events, trace workflows, run sidecars, render specs."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shared.cli import infra, render, sidecar
from shared.cli.trace_view import render_trace
from shared.errors import ConfigurationError, IonError
from shared.manifest import Manifest, load_manifest
from shared.providers import Providers
from shared.settings import IonSettings, load_settings
from shared.submit import ensure_subscriptions, parse_pairs, submit_event
from shared.trace import build_trace, workflow_finished

if TYPE_CHECKING:
    from shared.runtime import LocalRuntime

app = typer.Typer(
    name="ion", help="Ion: event-driven, task-oriented processing.", no_args_is_help=True,
    pretty_exceptions_enable=False, add_completion=False,
)
console = Console()
errors = Console(stderr=True)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_MANIFEST = EXAMPLES / "media" / "modules.yaml"
DEMO_INPUT = EXAMPLES / "media" / "input" / "lecture.txt"

ManifestOption = Annotated[
    Path | None, typer.Option("--modules", "-m", help="Module manifest (default: $ION_MODULES or modules.yaml).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (stable).")]


def _fail(message: str, code: int = 2) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _settings(modules: Path | None = None, **overrides: Any) -> IonSettings:
    return load_settings(**({"modules": modules} if modules else {}), **overrides)


def _manifest(settings: IonSettings) -> Manifest:
    try:
        return load_manifest(settings.modules)
    except IonError as exc:
        raise _fail(str(exc)) from None


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what the platform does.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def up(modules: ManifestOption = None) -> None:
    """Run the local platform (dispatchers, reconciler, local executor) until stopped."""
    from shared.runtime import LocalRuntime

    settings = _settings(modules)
    manifest = _manifest(settings)
    runtime = LocalRuntime(settings, manifest)
    runtime.start()
    console.print(
        f"ion up: {len(manifest)} module(s) from {settings.modules}, state in {settings.home_dir}. "
        "Ctrl-C stops.", highlight=False,
    )
    signal.signal(signal.SIGTERM, lambda *_: runtime.request_stop())
    try:
        while not runtime.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()


@app.command()
def publish(
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="Event type (topic).")],
    data: Annotated[list[str] | None, typer.Option("--data", "-d", help="key=value, repeatable.")] = None,
    files: Annotated[list[Path] | None, typer.Option("--file", "-f", help="Input file, repeatable.")] = None,
    modules: ManifestOption = None,
    as_json: JsonOption = False,
) -> None:
    """Publish a first event; prints its event id and correlation id."""
    settings = _settings(modules)
    try:
        pairs = parse_pairs(data or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    inputs: dict[str, Path] = {}
    for path in files or []:
        if not path.is_file():
            raise _fail(f"{path}: no such file")
        if path.name in inputs:
            raise _fail(f"two input files are named {path.name!r}")
        inputs[path.name] = path
    providers = Providers.open(settings)
    try:
        if settings.modules.exists():
            ensure_subscriptions(providers.bus, _manifest(settings), settings.max_delivery_count)
        context = submit_event(providers.bus, providers.metadata, providers.blob, event_type, pairs, inputs)
    except (IonError, ValueError) as exc:
        raise _fail(str(exc)) from None
    finally:
        providers.close()
    if as_json:
        print(json.dumps({"event_id": context.id, "correlation_id": context.correlation_id}))
    else:
        console.print(f"event id:       {context.id}\ncorrelation id: {context.correlation_id}",
                      highlight=False)


@app.command()
def trace(
    correlation_id: Annotated[str, typer.Argument(metavar="CORRELATION_ID")],
    as_json: JsonOption = False,
) -> None:
    """Show one workflow: events, jobs (status, attempts, reason, logs), insights and files."""
    settings = _settings()
    providers = Providers.open(settings)
    try:
        document = build_trace(providers.metadata, correlation_id)
    finally:
        providers.close()
    if not document["events"] and not document["summary"]["jobs"]:
        raise _fail(f"no workflow with correlation id {correlation_id!r}", 1)
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        console.print(render_trace(document))


@app.command("dead-letters")
def dead_letters(
    module: Annotated[str, typer.Argument(help="Module (subscription) name.")],
    as_json: JsonOption = False,
) -> None:
    """List a module's dead-lettered messages with their reasons."""
    settings = _settings()
    providers = Providers.open(settings)
    try:
        letters = providers.bus.dead_letters(module)
    finally:
        providers.close()
    if as_json:
        print(json.dumps([
            {"message_id": d.message_id, "topic": d.topic, "reason": d.reason,
             "delivery_count": d.delivery_count, "dead_lettered_at": d.dead_lettered_at.isoformat()}
            for d in letters
        ], indent=2))
        return
    if not letters:
        console.print(f"no dead-lettered messages for {module}")
    for letter in letters:
        console.print(f"{letter.message_id}  {letter.topic}  deliveries={letter.delivery_count}  "
                      f"{letter.reason}", highlight=False)


@app.command()
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the pipeline.")] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Run the bundled example pipeline end to end on the embedded default and print its trace."""
    from shared.runtime import LocalRuntime

    base = _settings()
    home = base.home_dir / "demo"
    shutil.rmtree(home, ignore_errors=True)
    settings = _settings(DEMO_MANIFEST, home=home)
    manifest = _manifest(settings)
    runtime = LocalRuntime(settings, manifest)
    runtime.start()
    try:
        context = submit_event(runtime.providers.bus, runtime.providers.metadata, runtime.providers.blob,
                               "video_uploaded", {"title": "lecture"}, {DEMO_INPUT.name: DEMO_INPUT})
        finished = _wait_for(runtime, context.correlation_id, manifest, timeout, show=not as_json)
        document = build_trace(runtime.providers.metadata, context.correlation_id)
    finally:
        runtime.stop()
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        console.print(render_trace(document))
    statuses = document["summary"]["by_status"]
    if not finished or set(statuses) != {"succeeded"}:
        raise _fail(f"the demo pipeline did not finish cleanly: {statuses}", 1)
    if not as_json:
        console.print(f"[green]demo finished:[/] {document['summary']['jobs']} jobs succeeded; "
                      f"state in {home}", highlight=False)


def _wait_for(runtime: LocalRuntime, correlation_id: str, manifest: Manifest, timeout: float,
              show: bool) -> bool:
    metadata = runtime.providers.metadata
    deadline = time.monotonic() + timeout
    with Progress(TextColumn("[bold]pipeline"), BarColumn(), MofNCompleteColumn(), TextColumn("jobs"),
                  TimeElapsedColumn(), console=errors, disable=not show, transient=True) as progress:
        task = progress.add_task("jobs", total=None)
        while time.monotonic() < deadline:
            records = metadata.jobs(correlation_id)
            done = sum(1 for r in records if r.status.final)
            progress.update(task, total=max(len(records), 1), completed=done)
            if workflow_finished(metadata, correlation_id, manifest):
                return True
            time.sleep(0.1)
    return False


for command_module in (sidecar, render, infra):
    command_module.register(app)


def main() -> None:
    try:
        app()
    except ConfigurationError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
