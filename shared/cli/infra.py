"""`ion infra`."""

import typer


def register(app: typer.Typer) -> None:
    """Adds the command to the ion app."""
