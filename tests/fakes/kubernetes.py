"""Fakes of kubernetes.client.BatchV1Api and CoreV1Api: an in-memory API server for Jobs, Secrets, pods.

Bodies are checked like a strict API server would: each is round-tripped through the client's own
models (`ApiClient().deserialize` into V1Job / V1Secret and back); a misspelled or misplaced field
does not survive and the create fails with 422. Every call is recorded in `calls`. Test helpers
(`finish`, `fail_deadline`, `image_pull_error`, `evict`, `start`) drive a Job to a state.
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

_api = client.ApiClient()


def to_model(body: dict[str, Any], kind: str) -> Any:
    return _api.deserialize(json.dumps(body), kind, "application/json")


def to_dict(model: Any) -> Any:
    return _api.sanitize_for_serialization(model)


def _strict(body: dict[str, Any], kind: str) -> Any:
    model = to_model(body, kind)
    if to_dict(model) != json.loads(json.dumps(body)):
        raise ApiException(status=422, reason=f"Unprocessable Entity: {kind} has unknown or misplaced fields")
    return model


def _error(status: int, reason: str, message: str) -> ApiException:
    return ApiException(status=status, reason=reason, body=json.dumps({"message": message, "code": status}))


@dataclass
class FakeCluster:
    """State shared by the two fake APIs: stored objects (API form) and pods per Job."""

    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # by job name
    calls: list[tuple[str, Any]] = field(default_factory=list)
    _uids: Any = field(default_factory=lambda: itertools.count(1))
    fail_next: list[ApiException] = field(default_factory=list)  # raised by the next calls, in order
    created_jobs: list[str] = field(default_factory=list)  # names, one entry per successful create

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    # --- helpers that play the Job controller and kubelet ------------------------------------

    def _job(self, namespace: str, name: str) -> dict[str, Any]:
        return self.jobs[(namespace, name)]

    def _set_pod(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.pods[(namespace, name)] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-abcde", "namespace": namespace, "labels": {"job-name": name}},
            "status": status,
        }

    def start(self, namespace: str, name: str) -> None:
        self._job(namespace, name)["status"] = {"active": 1}
        self._set_pod(namespace, name, {"phase": "Running", "containerStatuses": [
            {"name": "module", "image": "x", "imageID": "", "ready": True, "restartCount": 0,
             "state": {"running": {}}}]})

    def finish(self, namespace: str, name: str, exit_code: int) -> None:
        job = self._job(namespace, name)
        terminated = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error"}
        self._set_pod(namespace, name, {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [{"name": "module", "image": "x", "imageID": "", "ready": False,
                                   "restartCount": 0, "state": {"terminated": terminated}}],
        })
        if exit_code == 0:
            job["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        else:
            job["status"] = {"failed": 1, "conditions": [{
                "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"}]}

    def fail_deadline(self, namespace: str, name: str) -> None:
        self._job(namespace, name)["status"] = {"failed": 1, "conditions": [{
            "type": "Failed", "status": "True", "reason": "DeadlineExceeded",
            "message": "Job was active longer than specified deadline"}]}
        self.pods.pop((namespace, name), None)

    def image_pull_error(self, namespace: str, name: str) -> None:
        self._job(namespace, name)["status"] = {"active": 1}
        self._set_pod(namespace, name, {"phase": "Pending", "containerStatuses": [{
            "name": "module", "image": "x", "imageID": "", "ready": False, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff",
                                  "message": "Back-off pulling image \"registry/missing:1\""}}}]})

    def evict(self, namespace: str, name: str) -> None:
        self._job(namespace, name)["status"] = {"failed": 1, "conditions": [{
            "type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
            "message": "Job has reached the specified backoff limit"}]}
        self._set_pod(namespace, name, {"phase": "Failed", "reason": "Evicted",
                                        "message": "The node was low on resource: memory."})


class FakeBatchV1Api:
    """Fake of kubernetes.client.BatchV1Api (the methods the executor uses)."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def create_namespaced_job(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        self.cluster.calls.append(("create_namespaced_job", copy.deepcopy(body)))
        self.cluster._maybe_fail()
        _strict(body, "V1Job")
        name = body["metadata"]["name"]
        if body["metadata"].get("namespace", namespace) != namespace:
            raise _error(400, "Bad Request", "the namespace of the object does not match the request")
        if (namespace, name) in self.cluster.jobs:
            raise _error(409, "Conflict", f'jobs.batch "{name}" already exists')
        stored = copy.deepcopy(body)
        stored["metadata"]["uid"] = f"uid-{next(self.cluster._uids)}"
        self.cluster.jobs[(namespace, name)] = stored
        self.cluster.created_jobs.append(name)
        return to_model(stored, "V1Job")

    def read_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.cluster.calls.append(("read_namespaced_job", name))
        self.cluster._maybe_fail()
        if (namespace, name) not in self.cluster.jobs:
            raise _error(404, "Not Found", f'jobs.batch "{name}" not found')
        return to_model(self.cluster.jobs[(namespace, name)], "V1Job")

    def delete_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.cluster.calls.append(("delete_namespaced_job", {"name": name, **kwargs}))
        self.cluster._maybe_fail()
        if (namespace, name) not in self.cluster.jobs:
            raise _error(404, "Not Found", f'jobs.batch "{name}" not found')
        job = self.cluster.jobs.pop((namespace, name))
        self.cluster.pods.pop((namespace, name), None)
        # Garbage collection: Secrets owned by the Job go with it.
        uid = job["metadata"]["uid"]
        for key, secret in list(self.cluster.secrets.items()):
            owners = secret["metadata"].get("ownerReferences") or []
            if any(owner.get("uid") == uid for owner in owners):
                del self.cluster.secrets[key]
        return {"kind": "Status", "status": "Success"}


class FakeCoreV1Api:
    """Fake of kubernetes.client.CoreV1Api: Secrets and listing a Job's pods."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster

    def create_namespaced_secret(self, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        self.cluster.calls.append(("create_namespaced_secret", copy.deepcopy(body)))
        self.cluster._maybe_fail()
        _strict(body, "V1Secret")
        name = body["metadata"]["name"]
        if (namespace, name) in self.cluster.secrets:
            raise _error(409, "Conflict", f'secrets "{name}" already exists')
        self.cluster.secrets[(namespace, name)] = copy.deepcopy(body)
        return to_model(body, "V1Secret")

    def patch_namespaced_secret(self, name: str, namespace: str, body: dict[str, Any], **kwargs: Any) -> Any:
        self.cluster.calls.append(("patch_namespaced_secret", {"name": name, "body": copy.deepcopy(body)}))
        self.cluster._maybe_fail()
        if (namespace, name) not in self.cluster.secrets:
            raise _error(404, "Not Found", f'secrets "{name}" not found')
        secret = self.cluster.secrets[(namespace, name)]
        secret["metadata"].update(copy.deepcopy(body.get("metadata", {})))
        return to_model(secret, "V1Secret")

    def delete_namespaced_secret(self, name: str, namespace: str, **kwargs: Any) -> Any:
        self.cluster.calls.append(("delete_namespaced_secret", {"name": name, **kwargs}))
        self.cluster._maybe_fail()
        if (namespace, name) not in self.cluster.secrets:
            raise _error(404, "Not Found", f'secrets "{name}" not found')
        del self.cluster.secrets[(namespace, name)]
        return {"kind": "Status", "status": "Success"}

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **kwargs: Any) -> Any:
        self.cluster.calls.append(("list_namespaced_pod", label_selector))
        self.cluster._maybe_fail()
        wanted = dict(part.split("=", 1) for part in label_selector.split(",") if part)
        items = [
            pod for (ns, _), pod in self.cluster.pods.items()
            if ns == namespace and all(pod["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        ]
        return to_model({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}, "V1PodList")


def fake_kubernetes() -> tuple[FakeCluster, FakeBatchV1Api, FakeCoreV1Api]:
    cluster = FakeCluster()
    return cluster, FakeBatchV1Api(cluster), FakeCoreV1Api(cluster)
