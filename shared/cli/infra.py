"""`ion infra params`: the deployment's parameter file, from the module manifest."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.errors import IonError
from shared.infra_params import infra_parameters, render_parameters
from shared.manifest import load_manifest
from shared.settings import IonSettings

# The repository's Bicep template, when ion runs from a checkout; `using` in a .bicepparam points at it.
BICEP_TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "bicep" / "main.bicep"

FORMAT_HELP = "bicep (.bicepparam, or ARM JSON parameters when -o ends in .json) or terraform (.tfvars.json)."

errors = Console(stderr=True)


class Format(StrEnum):
    bicep = "bicep"
    terraform = "terraform"


class Metadata(StrEnum):
    cosmos = "cosmos"
    mongodb = "mongodb"


def _fail(message: str) -> typer.Exit:
    # Plain text: manifest errors may contain brackets, which are not markup.
    errors.print(f"error: {message}", style="red", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def _valid_name(name: str) -> bool:
    return 3 <= len(name) <= 16 and name.isascii() and name.isalnum() and name.islower() and name[0].isalpha()


def params(
    modules: Annotated[
        Path | None, typer.Option("--modules", "-m", help="Module manifest (default: $ION_MODULES or modules.yaml).")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.bicep,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    metadata: Annotated[Metadata, typer.Option("--metadata", help="Metadata store to deploy.")] = Metadata.cosmos,
    name: Annotated[
        str | None, typer.Option("--name", help="Base name of the resources (3-16 lowercase letters and digits).")
    ] = None,
    sidecar_image: Annotated[
        str | None, typer.Option("--sidecar-image", help="Sidecar image (default: ion-sidecar:latest in the registry).")
    ] = None,
) -> None:
    """Write the deployment parameters (topics, subscriptions, executors) for a module manifest.

    Topics are every event type the manifest subscribes to or publishes, one subscription per module
    (named after it) on the topic it subscribes to, and the executors its modules use are enabled.
    """
    if name is not None and not _valid_name(name):
        raise _fail(f"--name {name!r}: use 3-16 lowercase letters and digits, starting with a letter")
    path = modules or IonSettings().modules
    try:
        manifest = load_manifest(path)
        values = infra_parameters(manifest, metadata=metadata.value, name=name, sidecar_image=sidecar_image)
    except IonError as exc:
        raise _fail(str(exc)) from None
    template = BICEP_TEMPLATE if BICEP_TEMPLATE.exists() else None
    text = render_parameters(values, fmt.value, output, template)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{output}: cannot write: {exc.strerror}") from None
    errors.print(f"wrote {output} ({len(values['subscriptions'])} subscriptions, {len(values['topics'])} topics)",
                 highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Adds the `infra` command group to the ion app."""
    group = typer.Typer(help="Deploy Ion to Azure: parameters for infra/bicep and infra/terraform.",
                        no_args_is_help=True)
    group.command("params")(params)
    app.add_typer(group, name="infra")
