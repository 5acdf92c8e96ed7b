"""Fake of azure.batch.BatchClient: pools, jobs and tasks in memory, with the SDK's own models.

Requests are checked the way the service would: each body is serialised with the SDK's JSON encoder
and parsed back into its model, and every field must be one the model knows, at every level (a
misspelled or misplaced field fails with 400). Stored tasks are `azure.batch.models.BatchTask`.
Every call is recorded in `calls`. `start`, `finish`, `fail` drive a task like a node would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from azure.batch import models
from azure.batch._utils.model_base import Model, SdkJSONEncoder
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError


def to_json(model: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(model, cls=SdkJSONEncoder, exclude_readonly=True))
    return result


def check_known_fields(model: Any, where: str = "") -> None:
    """Raise when the model holds a key that is none of its REST fields (at any depth)."""
    if isinstance(model, list):
        for index, item in enumerate(model):
            check_known_fields(item, f"{where}[{index}]")
        return
    if not isinstance(model, Model):
        return
    fields = {rf._rest_name: attr for attr, rf in model._attr_to_rest_field.items()}
    for key in model:
        if key not in fields:
            raise HttpResponseError(message=f"400 InvalidRequestBody: unknown field {where}.{key}".strip("."))
        check_known_fields(getattr(model, fields[key]), f"{where}.{key}")


def _round_trip(model: Any, cls: type) -> Any:
    parsed = cls(to_json(model))
    check_known_fields(parsed)
    return parsed


@dataclass
class FakeBatchClient:
    """Fake of azure.batch.BatchClient (the operations the executor uses)."""

    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_next: list[Exception] = field(default_factory=list)
    created_tasks: list[str] = field(default_factory=list)  # task ids, one per successful create

    def _record(self, name: str, payload: Any) -> None:
        self.calls.append((name, payload))
        if self.fail_next:
            raise self.fail_next.pop(0)

    # pools
    def get_pool(self, pool_id: str, **kwargs: Any) -> Any:
        self._record("get_pool", pool_id)
        if pool_id not in self.pools:
            raise ResourceNotFoundError(message=f"PoolNotFound: {pool_id}")
        return models.BatchPool({**self.pools[pool_id], "state": "active"})

    def create_pool(self, pool: Any, **kwargs: Any) -> None:
        body = to_json(pool)
        self._record("create_pool", body)
        _round_trip(pool, models.BatchPoolCreateOptions)
        if body["id"] in self.pools:
            raise ResourceExistsError(message=f"PoolExists: {body['id']}")
        self.pools[body["id"]] = body

    # jobs
    def get_job(self, job_id: str, **kwargs: Any) -> Any:
        self._record("get_job", job_id)
        if job_id not in self.jobs:
            raise ResourceNotFoundError(message=f"JobNotFound: {job_id}")
        return models.BatchJob({**self.jobs[job_id], "state": "active"})

    def create_job(self, job: Any, **kwargs: Any) -> None:
        body = to_json(job)
        self._record("create_job", body)
        _round_trip(job, models.BatchJobCreateOptions)
        if body["poolInfo"]["poolId"] not in self.pools:
            raise HttpResponseError(message="400 PoolNotFound")
        if body["id"] in self.jobs:
            raise ResourceExistsError(message=f"JobExists: {body['id']}")
        self.jobs[body["id"]] = body

    # tasks
    def create_task(self, job_id: str, task: Any, **kwargs: Any) -> None:
        body = to_json(task)
        self._record("create_task", {"job_id": job_id, "task": body})
        _round_trip(task, models.BatchTaskCreateOptions)
        if job_id not in self.jobs:
            raise ResourceNotFoundError(message=f"JobNotFound: {job_id}")
        if (job_id, body["id"]) in self.tasks:
            raise ResourceExistsError(message=f"TaskExists: {body['id']}")
        self.tasks[(job_id, body["id"])] = {**body, "state": "active"}
        self.created_tasks.append(body["id"])

    def get_task(self, job_id: str, task_id: str, **kwargs: Any) -> Any:
        self._record("get_task", (job_id, task_id))
        if (job_id, task_id) not in self.tasks:
            raise ResourceNotFoundError(message=f"TaskNotFound: {task_id}")
        return models.BatchTask(self.tasks[(job_id, task_id)])

    def terminate_task(self, job_id: str, task_id: str, **kwargs: Any) -> None:
        self._record("terminate_task", (job_id, task_id))
        task = self.tasks.get((job_id, task_id))
        if task is None:
            raise ResourceNotFoundError(message=f"TaskNotFound: {task_id}")
        if task["state"] == "completed":
            raise ResourceExistsError(message="TaskCompleted: the task has already completed")
        self._complete(task, None, "failure", {"category": "usererror", "code": "TaskEnded",
                                               "message": "Task was ended by user request"})

    def delete_task(self, job_id: str, task_id: str, **kwargs: Any) -> None:
        self._record("delete_task", (job_id, task_id))
        if self.tasks.pop((job_id, task_id), None) is None:
            raise ResourceNotFoundError(message=f"TaskNotFound: {task_id}")

    # helpers that play a compute node
    @staticmethod
    def _complete(task: dict[str, Any], exit_code: int | None, result: str,
                  failure: dict[str, str] | None = None) -> None:
        info: dict[str, Any] = {"retryCount": 0, "requeueCount": 0, "result": result}
        if exit_code is not None:
            info["exitCode"] = exit_code
        if failure:
            info["failureInfo"] = failure
        task.update(state="completed", executionInfo=info)

    def start(self, job_id: str, task_id: str) -> None:
        self.tasks[(job_id, task_id)].update(state="running",
                                             executionInfo={"retryCount": 0, "requeueCount": 0})

    def finish(self, job_id: str, task_id: str, exit_code: int) -> None:
        failure = None if exit_code == 0 else {
            "category": "usererror", "code": "FailureExitCode",
            "message": "The task process exited with an unexpected exit code"}
        self._complete(self.tasks[(job_id, task_id)], exit_code,
                       "success" if exit_code == 0 else "failure", failure)

    def fail(self, job_id: str, task_id: str, code: str, message: str, category: str = "usererror") -> None:
        self._complete(self.tasks[(job_id, task_id)], None, "failure",
                       {"category": category, "code": code, "message": message})
