"""`/done`, step two: commit a validated plan in the contract's order.

files -> insight -> event contexts -> publish. Every step is idempotent (blob names, the
execution id and child event ids are derived), so a commit that failed half way can be repeated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from shared.blob.base import blob_name
from shared.contract.config import SidecarConfig
from shared.contract.outputs import OutputPlan, child_context
from shared.contract.transfer import transfer_all
from shared.models import EventContext, Insight, execution_id
from shared.providers import Providers

log = logging.getLogger("ion.sidecar")


@dataclass(frozen=True)
class CommitResult:
    files: dict[str, str] = field(default_factory=dict)  # out/data-relative path -> blob URL
    insight: Insight | None = None
    events: list[EventContext] = field(default_factory=list)


def commit_outputs(plan: OutputPlan, config: SidecarConfig, providers: Providers) -> CommitResult:
    """Blocking; run it in a thread. Provider errors propagate (the app answers 500)."""
    blob = providers.blob

    def store(relative: str, path: Path) -> str:
        url = blob.put(path, blob_name(config.correlation_id, config.event_id, config.module, relative))
        log.debug("out/data/%s stored", relative)  # the call logs one summary line
        return url

    # transfer_all keeps the order it is given: out/data order.
    urls = transfer_all((relative, partial(store, relative, path)) for relative, path in plan.files.items())

    insight: Insight | None = None
    if plan.stores_insight:
        insight = Insight(
            execution_id=execution_id(config.job_id, config.attempt),
            job_id=config.job_id,
            event_id=config.event_id,
            correlation_id=config.correlation_id,
            module=config.module,
            data=dict(plan.insight or {}),
            files=urls,
        )
        providers.metadata.put_insight(insight)
        log.info("insight %s stored", insight.execution_id)

    contexts = [child_context(config, event, urls) for event in plan.events]
    for context in contexts:
        providers.metadata.put_event_context(context)
    for context in contexts:
        providers.bus.publish(context.event())
        log.info("event %s (%s) published", context.id, context.type)
    return CommitResult(files=urls, insight=insight, events=contexts)
