"""The trace of one workflow: events → jobs (status, attempts, reason, logs, insight) → child events.

`build_trace` returns plain JSON-ready data; its shape is the stable `ion trace --json` interface.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.manifest import Manifest
from shared.metadata.base import MetadataStore
from shared.models import EventContext, Insight, JobRecord

TRACE_FORMAT_VERSION = 1


def _event(context: EventContext) -> dict[str, Any]:
    return {
        "id": context.id,
        "type": context.type,
        "parent_event_id": context.parent_event_id,
        "producer": context.producer,
        "created_at": context.created_at.isoformat(),
        "data": context.data,
        "files": sorted(context.files),
        "jobs": [],
    }


def _job(record: JobRecord, insight: Insight | None) -> dict[str, Any]:
    return {
        "job_id": record.job_id,
        "module": record.module,
        "executor": record.executor,
        "status": record.status.value,
        "attempt": record.attempt,
        "reason": record.reason,
        "created_at": record.created_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "attempts": [
            {
                "number": a.number,
                "status": a.status.value,
                "exit_code": a.exit_code,
                "reason": a.reason,
                "lost": a.lost,
                "started_at": a.started_at.isoformat() if a.started_at else None,
                "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                "logs": a.logs,
            }
            for a in record.attempts
        ],
        "insight": (
            {"data": insight.data, "files": sorted(insight.files), "execution_id": insight.execution_id}
            if insight
            else None
        ),
        "events": [],
    }


def build_trace(metadata: MetadataStore, correlation_id: str) -> dict[str, Any]:
    contexts = metadata.event_contexts(correlation_id)
    records = metadata.jobs(correlation_id)
    insights = metadata.insights(correlation_id)
    # The insight of the job's latest attempt that stored one.
    insight_by_job: dict[str, Insight] = {}
    for insight in sorted(insights, key=lambda i: i.created_at):
        insight_by_job[insight.job_id] = insight
    events = {c.id: _event(c) for c in contexts}
    jobs_by_event: dict[str, list[dict[str, Any]]] = defaultdict(list)
    job_nodes: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        node = _job(record, insight_by_job.get(record.job_id))
        job_nodes[(record.event_id, record.module)] = node
        jobs_by_event[record.event_id].append(node)
    roots: list[dict[str, Any]] = []
    for context in contexts:
        node = events[context.id]
        node["jobs"] = sorted(jobs_by_event.get(context.id, []), key=lambda j: j["module"])
        parent_job = job_nodes.get((context.parent_event_id or "", context.producer or ""))
        if parent_job is not None:
            parent_job["events"].append(node)
        else:  # a first event, or one whose producing job is not recorded
            roots.append(node)
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        counts[record.status.value] += 1
    return {
        "format": TRACE_FORMAT_VERSION,
        "correlation_id": correlation_id,
        "events": roots,
        "summary": {
            "events": len(contexts),
            "jobs": len(records),
            "by_status": dict(sorted(counts.items())),
            "insights": len(insights),
        },
    }


def workflow_finished(metadata: MetadataStore, correlation_id: str, manifest: Manifest) -> bool:
    """True when every event has a job for every subscribed module and every job is final."""
    records = metadata.jobs(correlation_id)
    if any(not r.status.final for r in records):
        return False
    have = {(r.event_id, r.module) for r in records}
    return all(
        (context.id, module.name) in have
        for context in metadata.event_contexts(correlation_id)
        for module in manifest.subscribers(context.type)
    )
