"""Dispatch rules: ordinary Python named in the manifest (`rules: package.module:function`).

A rule gets the event and the module spec and returns:
- ``None`` (or ``Launch()``): launch the module as declared;
- ``Skip("reason")``: do not run the module for this event (recorded on the job record);
- ``Launch(executor=..., resources=..., env=..., timeout=...)`` or a dict of those: launch with overrides.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.models import Event, JobOverrides, ModuleSpec


@dataclass(frozen=True)
class Skip:
    reason: str


class Launch(JobOverrides):
    """Launch the job, with any of executor, resources, env, timeout overridden."""


Rule = Callable[[Event, ModuleSpec], Any]
RuleDecision = Skip | JobOverrides


class RuleError(Exception):
    """The rule could not be loaded, raised, or returned something that is not a decision."""


_cache: dict[str, Rule] = {}
_cache_lock = threading.Lock()


def load_rule(reference: str) -> Rule:
    with _cache_lock:
        if reference in _cache:
            return _cache[reference]
    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise RuleError(f"rules {reference!r} cannot be loaded: {exc}") from exc
    if not callable(function):
        raise RuleError(f"rules {reference!r} is not callable")
    with _cache_lock:
        _cache[reference] = function
    return function


def decide(event: Event, spec: ModuleSpec) -> RuleDecision:
    """Apply the module's rule (if any) to the event."""
    if spec.rules is None:
        return JobOverrides()
    rule = load_rule(spec.rules)
    try:
        result = rule(event, spec)
    except Exception as exc:
        raise RuleError(f"rules {spec.rules!r} raised {type(exc).__name__}: {exc}") from exc
    if result is None:
        return JobOverrides()
    if isinstance(result, Skip):
        return result
    if isinstance(result, JobOverrides):
        return JobOverrides.model_validate(result.model_dump(exclude_unset=True))
    if isinstance(result, dict):
        try:
            return JobOverrides.model_validate(result)
        except ValidationError as exc:
            raise RuleError(f"rules {spec.rules!r} returned invalid overrides: {exc}") from exc
    raise RuleError(
        f"rules {spec.rules!r} returned {type(result).__name__}; expected None, Skip, Launch or a dict"
    )
