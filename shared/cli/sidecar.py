"""`ion sidecar`: the sidecar a job runs beside its module, or a development sidecar for module authors."""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from shared.contract import SidecarConfig
from shared.ids import new_secret
from shared.models import (
    EVENT_TYPE_PATTERN,
    MODULE_NAME_PATTERN,
    Attempt,
    JobRecord,
    JobStatus,
    utcnow,
)
from shared.providers import Providers
from shared.settings import IonSettings
from shared.submit import parse_pairs, record_first_event
from sidecar.standalone import configure_logging, run_standalone, serve_until_signal

log = logging.getLogger("ion.sidecar")


HELP = """Run a sidecar: the module contract (/ready, /done, /healthz) on 127.0.0.1.

Without --development (what the sidecar image runs), the job comes from the environment the executor
sets (SHARED_SECRET, SIDECAR_PORT, SIDECAR_BASE_DIR, ION_EVENT_ID, ION_CORRELATION_ID, ION_EVENT_TYPE,
ION_MODULE_NAME, ION_JOB_ID, ION_ATTEMPT, ION_PUBLISHES, ION_SIDECAR_GRACE_SECONDS) and the providers
from ION_MESSAGING, ION_METADATA and ION_BLOB. It exits 0 after a successful /done and the grace period.

With --development it runs on the embedded providers under ION_HOME (SQLite and a blob folder, whatever
ION_MESSAGING etc. say), creates an input event from --event-type, --data and --file, and prints the
environment a module needs on stdout, one line each, then a line `ready` once it accepts connections:

\b
    export SIDECAR_PORT=8080
    export SIDECAR_BASE_DIR=/home/me/.ion/dev/20240101-120000-1a2b3c4d
    export SHARED_SECRET=...
    export ION_EVENT_ID=...
    export ION_CORRELATION_ID=...
    export ION_EVENT_TYPE=dev
    export ION_MODULE_NAME=dev
    ready

Values are quoted for a POSIX shell only when they need it. Logs go to stderr.
"""


def _parse_data(items: list[str]) -> dict[str, str]:
    try:
        return parse_pairs(items)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--data") from None


def _input_files(items: list[str]) -> dict[str, Path]:
    """--file PATH or NAME=PATH; a folder brings every file under it, below its own name."""
    files: dict[str, Path] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or Path(item).exists():
            name, raw = "", item
        path = Path(raw).expanduser()
        if not path.exists():
            raise typer.BadParameter(f"{raw!r} does not exist", param_hint="--file")
        base = name.strip("/") or path.resolve().name
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                files[f"{base}/{child.relative_to(path).as_posix()}"] = child
        else:
            files[base] = path
    return files



def _record_development_job(providers: Providers, config: SidecarConfig) -> JobRecord:
    """A job record, so `ion trace` shows the development run, its insight and its events as a tree."""
    now = utcnow()
    record = JobRecord(
        job_id=config.job_id, event_id=config.event_id, correlation_id=config.correlation_id,
        module=config.module, executor="development", status=JobStatus.RUNNING, started_at=now,
        attempts=[Attempt(number=1, status=JobStatus.RUNNING, executor="development", started_at=now)],
    )
    providers.metadata.create_job(record)
    return record


def _finish_development_job(providers: Providers, record: JobRecord, finished: bool) -> None:
    now = utcnow()
    status = JobStatus.SUCCEEDED if finished else JobStatus.FAILED
    reason = None if finished else "the development sidecar stopped before /done"
    attempt = record.attempts[-1].model_copy(update={"status": status, "finished_at": now, "reason": reason})
    providers.metadata.update_job(record.model_copy(update={
        "status": status, "reason": reason, "finished_at": now, "updated_at": now, "attempts": [attempt],
    }))


def _print_environment(config: SidecarConfig, port: int) -> None:
    values = {
        "SIDECAR_PORT": str(port),
        "SIDECAR_BASE_DIR": str(config.base_dir),
        # The author's own development secret: printed here and nowhere else.
        "SHARED_SECRET": config.shared_secret.get_secret_value(),
        "ION_EVENT_ID": config.event_id,
        "ION_CORRELATION_ID": config.correlation_id,
        "ION_EVENT_TYPE": config.event_type,
        "ION_MODULE_NAME": config.module,
    }
    for name, value in values.items():
        print(f"export {name}={shlex.quote(value)}")
    print("ready", flush=True)


def run_development(
    *,
    host: str,
    port: int,
    base_dir: Path | None,
    secret: str | None,
    module: str,
    publishes: list[str] | None,
    event_type: str,
    data: dict[str, str],
    files: dict[str, Path],
    keep_running: bool,
) -> int:
    from sidecar.server import CannotListen

    configure_logging()
    finished = False
    embedded = {"messaging": "sqlite", "metadata": "sqlite", "blob": "filesystem"}
    settings = IonSettings().model_copy(update=embedded)
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    providers = Providers.open(settings)
    try:
        context = record_first_event(providers.metadata, providers.blob, event_type, data, files)
        if base_dir is None:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            base_dir = settings.home_dir / "dev" / f"{stamp}-{context.id[:8]}"
        base_dir.mkdir(parents=True, exist_ok=True)
        config = SidecarConfig(
            shared_secret=secret or new_secret(),
            port=port,
            base_dir=base_dir.resolve(),
            event_id=context.id,
            correlation_id=context.correlation_id,
            event_type=context.type,
            module=module,
            publishes=publishes,
        )
        record = _record_development_job(providers, config)
        try:
            finished = asyncio.run(serve_until_signal(
                config, providers, host,
                on_listening=lambda real_port: _print_environment(config, real_port),
                exit_after_done=not keep_running,
            ))
        except CannotListen as error:
            print(f"ion sidecar: {error.strerror} (pass --port 0 for any free port)", file=sys.stderr)
            return 1
        finally:
            _finish_development_job(providers, record, finished)
    finally:
        providers.close()
    return 0 if finished or keep_running else 128 + signal.SIGTERM


def register(app: typer.Typer) -> None:
    """Adds `ion sidecar` to the ion app."""

    @app.command("sidecar", help=HELP)
    def sidecar(
        development: Annotated[
            bool, typer.Option("--development", help="Embedded providers, for module authors.")
        ] = False,
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int, typer.Option(min=0, max=65535, help="(development) Port; 0 picks a free one.")
        ] = 8080,
        base_dir: Annotated[
            Path | None,
            typer.Option("--base-dir",
                         help="(development) Shared directory (default: new, under ION_HOME/dev/)."),
        ] = None,
        secret: Annotated[
            str | None,
            typer.Option(envvar="SHARED_SECRET", show_envvar=False,
                         help="(development) Shared secret (default: $SHARED_SECRET or a new random one)."),
        ] = None,
        module: Annotated[str, typer.Option(help="(development) Module name.")] = "dev",
        publishes: Annotated[
            str | None,
            typer.Option(help="(development) Comma-separated event types the module may publish "
                              "(default: any)."),
        ] = None,
        event_type: Annotated[
            str, typer.Option("--event-type", help="(development) Type of the input event.")
        ] = "dev",
        data: Annotated[
            list[str] | None, typer.Option("--data", "-d", help="(development) Input event data KEY=VALUE.")
        ] = None,
        file: Annotated[
            list[str] | None,
            typer.Option("--file", "-f",
                         help="(development) Input file PATH or NAME=PATH (a folder brings its files)."),
        ] = None,
        keep_running: Annotated[
            bool, typer.Option("--keep-running", help="(development) Do not exit after /done.")
        ] = False,
    ) -> None:
        if not development:
            given = [name for name, value, default in (
                ("--port", port, 8080), ("--base-dir", base_dir, None), ("--module", module, "dev"),
                ("--publishes", publishes, None), ("--event-type", event_type, "dev"),
                ("--data", data, None), ("--file", file, None), ("--keep-running", keep_running, False),
            ) if value != default]
            if given:
                raise typer.BadParameter(f"{', '.join(given)} only apply with --development")
            raise typer.Exit(run_standalone(host))
        allowed = None if publishes is None else [p.strip() for p in publishes.split(",") if p.strip()]
        if not MODULE_NAME_PATTERN.match(module):
            raise typer.BadParameter(f"{module!r} is not a module name (lowercase letters, digits, '-')",
                                     param_hint="--module")
        for name, value in [("--event-type", event_type), *(("--publishes", p) for p in allowed or [])]:
            if not EVENT_TYPE_PATTERN.match(value):
                raise typer.BadParameter(f"{value!r} is not an event type (letters, digits, '.', '_', '-')",
                                         param_hint=name)
        code = run_development(
            host=host, port=port, base_dir=base_dir, secret=secret, module=module, publishes=allowed,
            event_type=event_type, data=_parse_data(data or []), files=_input_files(file or []),
            keep_running=keep_running,
        )
        raise typer.Exit(code)
