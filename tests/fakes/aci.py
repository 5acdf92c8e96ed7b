"""Fake of ContainerInstanceManagementClient.container_groups: container groups in memory.

Submitted groups are serialised with the SDK's own serializer (the REST body the service would get)
and must deserialise back to the same body through `ContainerGroup`, so a field the model does not
know is caught. Secure values are dropped from what `get` returns, as the service does. Every call
is recorded in `calls`; `run`, `finish`, `image_pull_failed` play the service.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerinstance import models


class FakePoller:
    """Stands in for LROPoller: the operation is already done."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value

    def done(self) -> bool:
        return True


def to_body(group: Any) -> dict[str, Any]:
    body: dict[str, Any] = group.serialize(keep_readonly=False)
    return body


@dataclass
class FakeContainerGroups:
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # group names, one per create

    def _record(self, name: str, payload: Any) -> None:
        self.calls.append((name, payload))
        if self.fail_next:
            raise self.fail_next.pop(0)

    def get(self, resource_group_name: str, container_group_name: str, **kwargs: Any) -> Any:
        self._record("get", container_group_name)
        stored = self.groups.get((resource_group_name, container_group_name))
        if stored is None:
            raise ResourceNotFoundError(message=f"ResourceNotFound: {container_group_name}")
        visible = copy.deepcopy(stored)
        for container in visible["properties"]["containers"]:
            for variable in container["properties"].get("environmentVariables", []):
                variable.pop("secureValue", None)
        return models.ContainerGroup.deserialize(visible)

    def begin_create_or_update(self, resource_group_name: str, container_group_name: str,
                               container_group: Any, **kwargs: Any) -> FakePoller:
        body = to_body(container_group)
        self._record("begin_create_or_update", {"name": container_group_name, "body": body})
        if to_body(models.ContainerGroup.deserialize(body)) != body:
            raise HttpResponseError(message="400 InvalidRequestContent")
        stored = copy.deepcopy(body)
        stored["name"] = container_group_name
        stored["properties"]["provisioningState"] = "Pending"
        self.groups[(resource_group_name, container_group_name)] = stored
        self.created.append(container_group_name)
        return FakePoller(models.ContainerGroup.deserialize(stored))

    def stop(self, resource_group_name: str, container_group_name: str, **kwargs: Any) -> None:
        self._record("stop", container_group_name)
        stored = self.groups.get((resource_group_name, container_group_name))
        if stored is None:
            raise ResourceNotFoundError(message=f"ResourceNotFound: {container_group_name}")
        stored["properties"]["instanceView"] = {"state": "Stopped"}
        for container in stored["properties"]["containers"]:
            view = container["properties"].get("instanceView") or {}
            if (view.get("currentState") or {}).get("state") != "Terminated":
                container["properties"]["instanceView"] = {"currentState": {
                    "state": "Terminated", "exitCode": 137, "detailStatus": "Killed"}}

    def begin_delete(self, resource_group_name: str, container_group_name: str, **kwargs: Any) -> FakePoller:
        self._record("begin_delete", container_group_name)
        if self.groups.pop((resource_group_name, container_group_name), None) is None:
            raise ResourceNotFoundError(message=f"ResourceNotFound: {container_group_name}")
        return FakePoller(None)

    # --- helpers that play the service -----------------------------------------------------------

    def _set(self, rg: str, name: str, container: str, view: dict[str, Any]) -> None:
        for item in self.groups[(rg, name)]["properties"]["containers"]:
            if item["name"] == container:
                item["properties"]["instanceView"] = view

    def run(self, rg: str, name: str, started: datetime | None = None) -> None:
        group = self.groups[(rg, name)]["properties"]
        group["provisioningState"] = "Succeeded"
        group["instanceView"] = {"state": "Running"}
        start = (started or datetime.now(UTC)).isoformat()
        for container in ("module", "sidecar"):
            self._set(rg, name, container, {"currentState": {"state": "Running", "startTime": start}})

    def finish(self, rg: str, name: str, exit_code: int, sidecar_running: bool = False) -> None:
        group = self.groups[(rg, name)]["properties"]
        group["provisioningState"] = "Succeeded"
        group["instanceView"] = {"state": "Running" if sidecar_running else
                                 ("Succeeded" if exit_code == 0 else "Failed")}
        self._set(rg, name, "module", {"currentState": {
            "state": "Terminated", "exitCode": exit_code,
            "detailStatus": "Completed" if exit_code == 0 else "Error"}})
        if not sidecar_running:
            self._set(rg, name, "sidecar", {"currentState": {"state": "Terminated", "exitCode": 0}})

    def image_pull_failed(self, rg: str, name: str) -> None:
        group = self.groups[(rg, name)]["properties"]
        group["provisioningState"] = "Failed"
        self._set(rg, name, "module", {
            "currentState": {"state": "Waiting", "detailStatus": "ImagePullBackOff"},
            "events": [{"name": "Failed", "type": "Warning", "count": 3,
                        "message": "Failed to pull image \"reg.example/missing:1\""}],
        })
