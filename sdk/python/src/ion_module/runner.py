"""`run(handler)`: the whole life of a module in one call, with the exit code Ion's retries rely on."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

from ion_module.module import Module
from ion_module.sidecar import SidecarError


def run(handler: Callable[[Module], Any], *, ready_deadline: float = 120.0) -> NoReturn:
    """Opens the module, runs handler(module), then calls /done and exits 0.

    If the handler raises, /done is NOT called: nothing is committed, the error goes to stderr
    and the process exits 1, so Ion retries the job. A refused /done also exits 1 with the
    sidecar's message.
    """
    try:
        module = Module.open(ready_deadline=ready_deadline)
    except Exception as exc:
        print(f"ion module: could not start: {exc}", file=sys.stderr)
        sys.exit(1)
    try:
        handler(module)
    except Exception:
        print("ion module: the handler failed; nothing was committed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        sys.exit(1)
    try:
        module.done()
    except SidecarError as exc:
        print(f"ion module: {exc}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
