"""Loading the module manifest (modules.yaml): every error names the file, the entry and the field."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from shared.errors import ManifestError
from shared.models import ModuleSpec


@dataclass(frozen=True)
class Manifest:
    modules: tuple[ModuleSpec, ...]
    path: Path | None = None
    _by_name: dict[str, ModuleSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({m.name: m for m in self.modules})

    def __iter__(self) -> Iterator[ModuleSpec]:
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def get(self, name: str) -> ModuleSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no module named {name!r} in the manifest") from None

    def subscribers(self, event_type: str) -> list[ModuleSpec]:
        return [m for m in self.modules if m.subscribes_to == event_type]

    def event_types(self) -> list[str]:
        """Every topic the manifest needs: subscribed and published types, in first-seen order."""
        seen: dict[str, None] = {}
        for module in self.modules:
            seen.setdefault(module.subscribes_to)
            for published in module.publishes:
                seen.setdefault(published)
        return list(seen)


def _entry_label(index: int, raw: Any) -> str:
    name = raw.get("name") if isinstance(raw, dict) else None
    return f"modules[{index}] ({name})" if isinstance(name, str) else f"modules[{index}]"


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) if loc else "(entry)"


def parse_manifest(document: Any, source: str = "modules.yaml", path: Path | None = None) -> Manifest:
    if not isinstance(document, dict) or "modules" not in document:
        raise ManifestError(f"{source}: expected a mapping with a 'modules' list at the top level")
    unknown = sorted(set(document) - {"modules"})
    if unknown:
        raise ManifestError(f"{source}: unknown top-level field(s) {', '.join(map(repr, unknown))}")
    entries = document["modules"]
    if not isinstance(entries, list) or not entries:
        raise ManifestError(f"{source}: 'modules' must be a non-empty list")
    modules: list[ModuleSpec] = []
    names: dict[str, int] = {}
    for index, raw in enumerate(entries):
        label = _entry_label(index, raw)
        if not isinstance(raw, dict):
            raise ManifestError(f"{source}: {label}: expected a mapping of fields")
        try:
            spec = ModuleSpec.model_validate(raw)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                where = _field_path(tuple(err["loc"]))
                message = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    message = "unknown field"
                elif err["type"] == "missing":
                    message = "required field is missing"
                problems.append(f"field '{where}': {message}")
            raise ManifestError(f"{source}: {label}: " + "; ".join(problems)) from None
        if spec.name in names:
            raise ManifestError(
                f"{source}: {label}: field 'name': duplicate module name {spec.name!r} "
                f"(also modules[{names[spec.name]}])"
            )
        names[spec.name] = index
        modules.append(spec)
    return Manifest(tuple(modules), path)


def load_manifest(path: str | Path) -> Manifest:
    manifest_path = Path(path)
    source = str(manifest_path)
    try:
        text = manifest_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{source}: manifest file not found (set ION_MODULES or pass -m)") from None
    except OSError as exc:
        raise ManifestError(f"{source}: cannot read manifest: {exc.strerror}") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(f"{source}: not valid YAML{where}: {problem}") from None
    return parse_manifest(document, source, manifest_path)
