"""`/done`, step one: read and validate ALL of `out/` into a plan, without any side effect."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.blob.base import blob_name
from shared.contract.config import SidecarConfig
from shared.contract.errors import ContractError
from shared.contract.paths import inside, linked_part, normalize, relative_path_problem
from shared.errors import InvalidName
from shared.ids import child_event_id
from shared.models import EVENT_TYPE_PATTERN, Event, EventContext

MAX_EVENT_FILE_BYTES = 256 * 1024
MAX_INSIGHT_BYTES = 1024 * 1024  # keeps an insight well inside every metadata store's document limit


@dataclass(frozen=True)
class PlannedEvent:
    """One child event from out/events/<file_name>."""

    file_name: str
    event_id: str
    type: str
    data: dict[str, str]
    files: list[str]  # paths relative to out/data


@dataclass(frozen=True)
class OutputPlan:
    """Everything /done will commit, already validated."""

    files: dict[str, Path] = field(default_factory=dict)  # path relative to out/data -> local file
    insight: dict[str, Any] | None = None  # out/meta.json, None when absent
    events: list[PlannedEvent] = field(default_factory=list)

    @property
    def stores_insight(self) -> bool:
        return self.insight is not None or bool(self.files)


def _fail(where: str, problem: str) -> ContractError:
    return ContractError(400, f"{where}: {problem}")


def validate_outputs(config: SidecarConfig) -> OutputPlan:
    """Validate out/ as a whole; raise ContractError(400) naming the file and the problem."""
    out = config.out_dir
    if linked_part(config.base_dir, "out") is not None:
        raise _fail("out/", "is a symlink; it must be a folder of the shared directory")
    files = _output_files(out / "data", config)
    insight = _read_insight(out / "meta.json")
    events = [_read_event(path, files, config) for path in _event_files(out / "events")]
    return OutputPlan(files=files, insight=insight, events=events)


def _output_files(data_dir: Path, config: SidecarConfig) -> dict[str, Path]:
    """Every regular file under out/data; a symlink may point only inside out/data."""
    files: dict[str, Path] = {}
    if not data_dir.exists():
        return files
    if not data_dir.is_dir() or data_dir.is_symlink():
        raise _fail("out/data", "must be a folder")
    _collect(data_dir, "", data_dir, config, files)
    return dict(sorted(files.items()))


def _collect(folder: Path, prefix: str, data_dir: Path, config: SidecarConfig, files: dict[str, Path]) -> None:
    """One folder of out/data, then its subfolders. Directory entries carry their type, so a plain
    file costs no system call; only symlinks are resolved."""
    with os.scandir(folder) as listing:
        entries = sorted(listing, key=lambda entry: entry.name)
    for entry in entries:
        relative = prefix + entry.name
        where = f"out/data/{relative}"
        path = Path(entry.path)
        if entry.is_symlink():
            if not inside(path, data_dir):
                raise _fail(where, "is a symlink out of out/data")
            if entry.is_dir():
                continue  # a folder linked from inside out/data: its files are listed where they are
            try:
                regular = stat.S_ISREG(entry.stat().st_mode)
            except OSError as error:  # e.g. a link to nothing
                raise _fail(where, f"cannot be read ({error.strerror})") from error
        elif entry.is_dir(follow_symlinks=False):
            _collect(path, relative + "/", data_dir, config, files)
            continue
        else:
            regular = entry.is_file(follow_symlinks=False)
        if not regular:
            raise _fail(where, "is not a regular file")
        try:
            blob_name(config.correlation_id, config.event_id, config.module, relative)
        except InvalidName as error:
            raise _fail(where, f"has a name the blob store cannot keep ({error})") from error
        files[relative] = path


def _read_json(path: Path, where: str, limit: int) -> Any:
    if path.is_symlink() and not inside(path, path.parent):
        raise _fail(where, "is a symlink out of out/")
    if not path.is_file():
        raise _fail(where, "is not a regular file")
    size = path.stat().st_size
    if size > limit:
        raise _fail(where, f"is {size} bytes, more than the limit of {limit} bytes")
    try:
        with path.open("rb") as handle:
            return json.loads(handle.read(limit + 1).decode("utf-8"))
    except UnicodeDecodeError as error:
        raise _fail(where, f"is not UTF-8 ({error.reason})") from error
    except json.JSONDecodeError as error:
        at = f"line {error.lineno} column {error.colno}"
        raise _fail(where, f"is not valid JSON ({error.msg} at {at})") from error


def _pairs(document: list[Any], where: str) -> list[tuple[str, Any]]:
    """The original [{"key": ..., "value": ...}] form, keys unique."""
    pairs: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(document):
        if not isinstance(item, dict) or set(item) != {"key", "value"}:
            raise _fail(where, f"item {index} must be an object with exactly \"key\" and \"value\"")
        key = item["key"]
        if not isinstance(key, str) or not key:
            raise _fail(where, f"item {index}: key must be a non-empty string")
        if key in seen:
            raise _fail(where, f"key {key!r} appears more than once")
        seen.add(key)
        pairs.append((key, item["value"]))
    return pairs


def _read_insight(path: Path) -> dict[str, Any] | None:
    if not path.exists() and not path.is_symlink():
        return None
    where = "out/meta.json"
    document = _read_json(path, where, MAX_INSIGHT_BYTES)
    if isinstance(document, list):
        return dict(_pairs(document, where))
    if isinstance(document, dict):
        return document
    raise _fail(where, "must be a list of {\"key\", \"value\"} pairs or a JSON object")


def _event_files(events_dir: Path) -> list[Path]:
    if not events_dir.exists():
        return []
    if not events_dir.is_dir() or events_dir.is_symlink():
        raise _fail("out/events", "must be a folder")
    return sorted((p for p in events_dir.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)


def _read_event(path: Path, output_files: dict[str, Path], config: SidecarConfig) -> PlannedEvent:
    where = f"out/events/{path.name}"
    document = _read_json(path, where, MAX_EVENT_FILE_BYTES)
    if isinstance(document, list):
        event_type, files, data = _event_from_pairs(document, where)
    elif isinstance(document, dict):
        event_type, files, data = _event_from_object(document, where)
    else:
        raise _fail(where, "must be a list of {\"key\", \"value\"} pairs or an object with \"eventType\"")

    if not EVENT_TYPE_PATTERN.match(event_type):
        raise _fail(where, f"eventType {event_type!r} is not a valid event type")
    if not config.allows(event_type):
        allowed = ", ".join(config.publishes or [])
        raise _fail(where, f"eventType {event_type!r} is not in publishes [{allowed}]")

    checked: list[str] = []
    for name in files:
        problem = relative_path_problem(name)
        if problem is not None:
            raise _fail(where, f"files entry {name!r} {problem}; it must be a path inside out/data")
        relative = normalize(name)
        if relative not in output_files:
            target = config.out_dir / "data" / relative
            if target.is_symlink() or (target.exists() and not inside(target, config.out_dir / "data")):
                raise _fail(where, f"files entry {name!r} leaves out/data")
            raise _fail(where, f"files entry {name!r} does not exist in out/data")
        if relative not in checked:
            checked.append(relative)

    event_id = child_event_id(config.event_id, config.module, path.name)
    size = len(_child_event(config, event_id, event_type, data).model_dump_json().encode())
    if size > config.max_event_bytes:
        limit = config.max_event_bytes
        raise _fail(where, f"the event is {size} bytes, more than the bus limit of {limit} bytes")
    return PlannedEvent(path.name, event_id, event_type, data, checked)


def _event_from_pairs(document: list[Any], where: str) -> tuple[str, list[str], dict[str, str]]:
    event_type: str | None = None
    files: list[str] = []
    data: dict[str, str] = {}
    for key, value in _pairs(document, where):
        if not isinstance(value, str):
            raise _fail(where, f"value of {key!r} must be a string")
        if key == "eventType":
            event_type = value
        elif key == "files":
            files = [item.strip() for item in value.split(",") if item.strip()]
        else:
            data[key] = value
    if event_type is None:
        raise _fail(where, "eventType is required")
    return event_type, files, data


def _event_from_object(document: dict[str, Any], where: str) -> tuple[str, list[str], dict[str, str]]:
    unknown = sorted(set(document) - {"eventType", "files", "data"})
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)} (expected eventType, files, data)")
    event_type = document.get("eventType")
    if event_type is None:
        raise _fail(where, "eventType is required")
    if not isinstance(event_type, str):
        raise _fail(where, "eventType must be a string")
    files = document.get("files", [])
    if not isinstance(files, list) or not all(isinstance(item, str) for item in files):
        raise _fail(where, "files must be a list of strings")
    data = document.get("data", {})
    if not isinstance(data, dict):
        raise _fail(where, "data must be an object")
    for key, value in data.items():
        if not isinstance(value, str):
            raise _fail(where, f"data value of {key!r} must be a string")
    return event_type, files, dict(data)


def _child_event(config: SidecarConfig, event_id: str, event_type: str, data: dict[str, str]) -> Event:
    return Event(
        id=event_id,
        type=event_type,
        correlation_id=config.correlation_id,
        parent_event_id=config.event_id,
        data=data,
    )


def child_context(config: SidecarConfig, event: PlannedEvent, urls: dict[str, str]) -> EventContext:
    """The child event's context: its files map the out/data-relative path to the blob URL."""
    base = _child_event(config, event.event_id, event.type, event.data)
    return EventContext(
        **base.model_dump(),
        files={name: urls[name] for name in event.files},
        producer=config.module,
    )
