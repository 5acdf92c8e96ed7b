"""Human-readable rendering of a trace document (the `ion trace` tree)."""

from __future__ import annotations

from typing import Any

from rich.tree import Tree

STATUS_STYLE = {
    "succeeded": "green", "running": "cyan", "pending": "yellow", "failed": "red",
    "dead_lettered": "bold red", "skipped": "dim",
}


def _data(data: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in data.items())


def _add_event(parent: Tree, event: dict[str, Any]) -> None:
    label = f"[bold]event[/] {event['type']} [dim]{event['id'][:12]}[/]"
    if event["data"]:
        label += f"  {_data(event['data'])}"
    node = parent.add(label)
    if event["files"]:
        node.add("files: " + ", ".join(event["files"]))
    for job in event["jobs"]:
        style = STATUS_STYLE.get(job["status"], "white")
        text = (f"[bold]job[/] {job['module']} [{style}]{job['status']}[/] attempt {job['attempt']} "
                f"on {job['executor']}")
        if job["reason"]:
            text += f" — {job['reason']}"
        job_node = node.add(text)
        for attempt in job["attempts"]:
            # Successful attempts need no detail; failed ones say why and where their logs are.
            if attempt["status"] != "succeeded" and (attempt["reason"] or attempt["logs"]):
                attempt_node = job_node.add(
                    f"[dim]attempt {attempt['number']} {attempt['status']}: {attempt['reason'] or ''}[/]"
                )
                for name, url in attempt["logs"].items():
                    attempt_node.add(f"[dim]{name}: {url}[/]")
        insight = job["insight"]
        if insight:
            if insight["data"]:
                job_node.add(f"insight: {_data(insight['data'])}")
            if insight["files"]:
                job_node.add("outputs: " + ", ".join(insight["files"]))
        for child in job["events"]:
            _add_event(job_node, child)


def render_trace(document: dict[str, Any]) -> Tree:
    summary = document["summary"]
    statuses = ", ".join(f"{n} {s}" for s, n in summary["by_status"].items()) or "no jobs"
    tree = Tree(f"[bold]workflow[/] {document['correlation_id']}  ({summary['events']} events, {statuses})")
    for event in document["events"]:
        _add_event(tree, event)
    return tree
