"""`ion render`: print the spec an executor would submit for one module, without submitting it.

The spec comes from the same pure builders `launch` uses, for a sample event of the module's
subscribed type. The per-attempt secret is generated at launch, so it shows as a placeholder;
provider keys from the environment show as `<redacted>`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from shared.errors import IonError
from shared.executors.base import JobLaunch
from shared.executors.container_spec import SECRET_PLACEHOLDER
from shared.jobenv import provider_environment
from shared.manifest import load_manifest
from shared.models import Event, ModuleSpec
from shared.settings import IonSettings

REDACTED = "<redacted>"
SAMPLE_EVENT_ID = "sample-event"


class ContainerExecutor(StrEnum):
    kubernetes = "kubernetes"
    azurebatch = "azurebatch"
    aci = "aci"


def sample_launch(module: ModuleSpec, executor: str, image: str | None = None) -> JobLaunch:
    """A JobLaunch for a sample event of the module's type, on the given executor."""
    chosen = image or module.image or f"{module.name}:latest"
    spec = ModuleSpec.model_validate({**module.model_dump(), "executor": executor, "image": chosen})
    event = Event.new(spec.subscribes_to, id=SAMPLE_EVENT_ID, correlation_id=SAMPLE_EVENT_ID)
    return JobLaunch.new(spec, event, SECRET_PLACEHOLDER)


def _redact(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str) and value in secrets:
        return REDACTED
    return value


def render_spec(executor: str, job: JobLaunch, settings: IonSettings) -> str:
    """The spec as text: Kubernetes YAML (Secret + Job), Batch task JSON or ACI group JSON."""
    _, secret_env = provider_environment(settings)
    secrets = {v for v in secret_env.values() if v}
    if executor == "kubernetes":
        from shared.executors.kubernetes import KubernetesSettings, build_job, build_secret

        k8s = KubernetesSettings()
        secret = build_secret(job, k8s, settings)
        secret["stringData"] = {
            key: value if value == SECRET_PLACEHOLDER else REDACTED
            for key, value in secret["stringData"].items()
        }
        documents = [secret, _redact(build_job(job, k8s, settings), secrets)]
        return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)
    if executor == "azurebatch":
        from azure.batch._utils.model_base import SdkJSONEncoder

        from shared.executors.azurebatch import AzureBatchSettings, build_task

        task = build_task(job, AzureBatchSettings(), settings)
        body = json.loads(json.dumps(task, cls=SdkJSONEncoder, exclude_readonly=True))
        return json.dumps(_redact(body, secrets), indent=2) + "\n"
    if executor == "aci":
        from shared.executors.aci import AciSettings, build_container_group

        group = build_container_group(job, AciSettings(), settings)
        body = group.serialize(keep_readonly=False)
        return json.dumps(_redact(body, secrets), indent=2) + "\n"
    raise ValueError(f"unknown executor {executor!r} (kubernetes, azurebatch or aci)")


def register(app: typer.Typer) -> None:
    """Adds `ion render` to the ion app."""

    @app.command("render")
    def render(
        executor: Annotated[ContainerExecutor, typer.Argument(help="kubernetes, azurebatch or aci.")],
        module: Annotated[str, typer.Option("--module", help="Name of the module in the manifest.")],
        modules: Annotated[
            Path | None,
            typer.Option("--modules", "-m", help="Module manifest (default: ION_MODULES or modules.yaml)."),
        ] = None,
        image: Annotated[
            str | None,
            typer.Option(help="Image to show for a module whose manifest entry has none (local modules)."),
        ] = None,
    ) -> None:
        """Print the job spec EXECUTOR would submit for MODULE (Kubernetes YAML, Batch task JSON, ACI
        group JSON), for a sample event. The shared secret shows as a placeholder, keys as <redacted>;
        executor settings (ION_K8S_*, ION_BATCH_*, ION_ACI_*) come from the environment."""
        settings = IonSettings()
        try:
            manifest = load_manifest(modules or settings.modules)
            spec = manifest.get(module)
        except KeyError:
            names = ", ".join(m.name for m in manifest)
            typer.echo(f"error: no module named {module!r} in the manifest (modules: {names})", err=True)
            raise typer.Exit(2) from None
        except IonError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if not (image or spec.image):
            typer.echo(f"note: module {module!r} has no image; showing {module}:latest (use --image)",
                       err=True)
        try:
            text = render_spec(executor.value, sample_launch(spec, executor.value, image), settings)
        except (IonError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(text, nl=False)
