"""Dispatch rules for the example: ordinary Python that decides how each job runs."""

from shared.models import Event, ModuleSpec
from shared.rules import Launch, Skip


def route(event: Event, spec: ModuleSpec) -> Launch | Skip | None:
    words = int(event.data.get("words", "0"))
    if words == 0:
        return Skip("empty scene")
    if words > 40:
        # On Azure this would be `executor="azurebatch"` with a GPU; locally it only widens limits.
        return Launch(resources={"cpu": "2", "memory": "2Gi"}, timeout="5m", env={"SCENE_SIZE": "long"})
    return None
