"""A module's view of its job: inputs in in/, outputs in out/, and the sidecar calls around them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Union

from ion_module.sidecar import SidecarClient

_REQUIRED_ENV = ("SIDECAR_PORT", "SHARED_SECRET", "SIDECAR_BASE_DIR")
InsightData = Union[Mapping[str, Any], Sequence[tuple[str, Any]]]


class ModuleError(Exception):
    """The module used the helper wrongly (missing environment, a path outside its folder, ...)."""


def _relative(name: str, what: str) -> PurePosixPath:
    """A safe relative path: no absolute paths, no '..', so it stays inside its folder."""
    path = PurePosixPath(name.replace(os.sep, "/"))
    if not name or path.is_absolute() or ".." in path.parts or str(path) in ("", "."):
        raise ModuleError(f"{what} {name!r} must be a relative path inside its folder (no '..', no '/...')")
    return path


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class Module:
    """One job's context. Use `Module.open()` (or `run(handler)`), then `done()` exactly once."""

    def __init__(self, base_dir: Path, client: SidecarClient, environ: Mapping[str, str]) -> None:
        self.base_dir = base_dir
        self._client = client
        self.event: dict[str, Any] = {}
        self.data: dict[str, str] = {}
        self.event_id = environ.get("ION_EVENT_ID", "")
        self.correlation_id = environ.get("ION_CORRELATION_ID", "")
        self.event_type = environ.get("ION_EVENT_TYPE", "")
        self.module_name = environ.get("ION_MODULE_NAME", "")
        self._insight: dict[str, Any] = {}
        self._events_written = 0
        self._finished = False

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, environ: Mapping[str, str] | None = None, *, ready_deadline: float = 120.0) -> Module:
        """Reads the environment, waits for the sidecar's /ready, then reads the triggering event."""
        env = os.environ if environ is None else environ
        missing = [name for name in _REQUIRED_ENV if not env.get(name)]
        if missing:
            raise ModuleError(f"missing environment variable(s) {', '.join(missing)}: is this an Ion job?")
        try:
            port = int(env["SIDECAR_PORT"])
        except ValueError:
            raise ModuleError(f"SIDECAR_PORT must be a port number, got {env['SIDECAR_PORT']!r}") from None
        module = cls(Path(env["SIDECAR_BASE_DIR"]), SidecarClient(port, env["SHARED_SECRET"]), env)
        module._client.ready(deadline_seconds=ready_deadline)
        module._read_event()
        return module

    def _read_event(self) -> None:
        event_file = self.base_dir / "in" / "event.json"
        meta_file = self.base_dir / "in" / "meta.json"
        if event_file.is_file():
            event = json.loads(event_file.read_text(encoding="utf-8"))
            if isinstance(event, dict):
                self.event = event
                self.event_id = str(event.get("id") or self.event_id)
                self.event_type = str(event.get("type") or self.event_type)
                correlation = event.get("correlation_id", event.get("correlationId"))
                self.correlation_id = str(correlation or self.correlation_id)
                data = event.get("data")
                if isinstance(data, dict):
                    self.data = {str(k): str(v) for k, v in data.items()}
                    return
        if meta_file.is_file():
            pairs = json.loads(meta_file.read_text(encoding="utf-8"))
            if isinstance(pairs, list):
                pairs = [p for p in pairs if isinstance(p, dict) and "key" in p]
                self.data = {str(p["key"]): str(p.get("value", "")) for p in pairs}

    # -- inputs --------------------------------------------------------------------------------

    @property
    def input_dir(self) -> Path:
        return self.base_dir / "in" / "data"

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "out" / "data"

    def input_files(self) -> list[str]:
        """Relative names (with '/' separators) of every input file, sorted."""
        root = self.input_dir
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def input_path(self, name: str) -> Path:
        """Path of an input file; raises FileNotFoundError naming the file when the event did not carry it."""
        path = self.input_dir / _relative(name, "input file")
        if not path.is_file():
            raise FileNotFoundError(f"input file {name!r} is not in in/data (inputs: {self.input_files()})")
        return path

    def read_input(self, name: str) -> bytes:
        return self.input_path(name).read_bytes()

    def read_input_text(self, name: str, encoding: str = "utf-8") -> str:
        return self.input_path(name).read_text(encoding=encoding)

    # -- outputs -------------------------------------------------------------------------------

    def output_path(self, name: str) -> Path:
        """Where to write an output file; its sub-folders are created."""
        path = self.output_dir / _relative(name, "output file")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_file(self, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        path = self.output_path(name)
        if isinstance(content, str):
            path.write_text(content, encoding=encoding)
        else:
            path.write_bytes(content)
        return path

    def publish(
        self,
        event_type: str,
        files: Iterable[str] = (),
        data: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> Path:
        """Writes out/events/<n>.json; the sidecar publishes it on done() after checking it.

        Files are relative to out/data. Event files are numbered in publish order, so a retried
        job writes the same names and the sidecar derives the same child event ids.
        """
        file_list = [_relative(f, "event file").as_posix() for f in files]
        self._events_written += 1
        file_name = f"{name or self._events_written}.json"
        _relative(file_name, "event file name")
        document = {
            "eventType": event_type,
            "files": file_list,
            "data": {str(k): str(v) for k, v in (data or {}).items()},
        }
        events_dir = self.base_dir / "out" / "events"
        events_dir.mkdir(parents=True, exist_ok=True)
        path = events_dir / file_name
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path

    def insight(self, data: InsightData, *, as_pairs: bool = False) -> Path:
        """Records an insight in out/meta.json; later calls add keys to earlier ones.

        Written as a JSON object, or with as_pairs=True in the original list of
        {"key", "value"} pairs (values become strings) for readers that expect it.
        """
        items = data.items() if isinstance(data, Mapping) else data
        for key, value in items:
            self._insight[str(key)] = value
        document: Any = self._insight
        if as_pairs:
            document = [{"key": k, "value": _as_text(v)} for k, v in self._insight.items()]
        out = self.base_dir / "out"
        out.mkdir(parents=True, exist_ok=True)
        path = out / "meta.json"
        path.write_text(json.dumps(document, indent=2), encoding="utf-8")
        return path

    # -- finishing -----------------------------------------------------------------------------

    def done(self) -> None:
        """Calls /done once; raises SidecarError with the sidecar's message when out/ is invalid."""
        if self._finished:
            raise ModuleError("done() was already called; the sidecar accepts it once")
        self._finished = True
        self._client.done()
