"""`/ready`: put the triggering event's files and data into `in/` for the module."""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

from shared.blob.base import write_local
from shared.contract.config import SidecarConfig
from shared.contract.errors import ContractError
from shared.contract.paths import inside, linked_part, normalize, relative_path_problem
from shared.contract.transfer import transfer_all
from shared.errors import InvalidName, NotFound
from shared.models import EventContext
from shared.providers import Providers

log = logging.getLogger("ion.sidecar")


def prepare_inputs(config: SidecarConfig, providers: Providers) -> EventContext:
    """Download the event's files into in/data/, write in/meta.json and in/event.json.

    Blocking (provider calls); the app runs it in a thread. Raises ContractError (500) when the
    event context or one of its files cannot be read, so the module may call /ready again.
    """
    context = providers.metadata.get_event_context(config.event_id)
    if context is None:
        raise ContractError(500, f"event {config.event_id}: no event context in the metadata store")
    make_layout(config)
    data_dir = config.in_dir / "data"

    # Every name is checked before the first download starts; each folder once (symlinks resolved).
    targets: dict[str, Path] = {}
    folder_inside: dict[str, bool] = {}
    for name in sorted(context.files):
        problem = relative_path_problem(name)
        if problem is None:
            relative = normalize(name)
            subfolder = relative.rpartition("/")[0]
            if subfolder not in folder_inside:
                folder_inside[subfolder] = inside(data_dir / subfolder, data_dir)
            if not folder_inside[subfolder]:
                problem = "leaves in/data"
        if problem is not None:
            raise ContractError(500, f"event {context.id}: file name {name!r} {problem}")
        targets[name] = data_dir / relative
    store = providers.blob

    def fetch(name: str) -> None:
        try:
            store.get(store.name_from_url(context.files[name]), targets[name])
        except (InvalidName, NotFound) as error:
            problem = f"file {name!r} cannot be downloaded: {error}"
            raise ContractError(500, f"event {context.id}: {problem}") from error
        log.debug("in/data/%s downloaded", name)  # the call logs one summary line

    transfer_all((name, partial(fetch, name)) for name in targets)

    meta_path = config.in_dir / "meta.json"
    if context.data:
        _write_json(meta_path, [{"key": k, "value": v} for k, v in context.data.items()])
    else:
        meta_path.unlink(missing_ok=True)
    _write_json(config.in_dir / "event.json", event_document(context))
    return context


def event_document(context: EventContext) -> dict[str, Any]:
    """in/event.json: the whole event, data as an object and files as their relative names."""
    return {
        "id": context.id,
        "type": context.type,
        "correlation_id": context.correlation_id,
        "parent_event_id": context.parent_event_id,
        "created_at": context.created_at.isoformat(),
        "data": dict(context.data),
        "files": sorted(normalize(name) for name in context.files),
    }


LAYOUT = ("in/data", "out/data", "out/events")


def make_layout(config: SidecarConfig) -> None:
    """The shared directory's folders: in/data, out/data, out/events. Idempotent: the standalone
    sidecar makes them as it starts, while the module starts, and /ready makes sure of them.
    ContractError (500) when one of them, or a folder on the way, is a symlink."""
    for relative in LAYOUT:
        linked = linked_part(config.base_dir, relative)
        if linked is not None:
            raise ContractError(500, f"{linked}/ is a symlink; it must be a folder of the shared directory")
    for relative in LAYOUT:
        _make_folder(config.base_dir / relative, config.base_dir)


def _make_folder(folder: Path, base_dir: Path) -> None:
    """Create a folder as open as the shared directory itself.

    In a pod the module and the sidecar may run as different users on a world-writable volume;
    out/ must stay writable for the module. Locally the job folder is private, and so are these.
    """
    base_dir.mkdir(parents=True, exist_ok=True)
    missing = [p for p in (folder, *folder.parents) if base_dir in p.parents and not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    mode = base_dir.stat().st_mode & 0o777
    for created in missing:
        created.chmod(mode)


def _write_json(path: Path, document: Any) -> None:
    # Like the fetched files: whole or not at all, and never through a link planted in in/.
    content = json.dumps(document, indent=2, ensure_ascii=False).encode()
    write_local(path, lambda stream: stream.write(content))
