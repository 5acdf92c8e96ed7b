"""SidecarConfig reads the variables the executors set (shared.jobenv) and keeps the secret secret."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.contract import SidecarConfig
from shared.executors.base import JobLaunch
from shared.ids import job_id
from shared.jobenv import sidecar_job_environment
from shared.models import Event, ModuleSpec
from sidecar.standalone import config_problem


def test_config_from_the_executors_environment() -> None:
    event = Event.new("image_uploaded", {"k": "v"})
    module = ModuleSpec(name="detector", subscribes_to="image_uploaded", publishes=["a", "b"],
                        command=["python", "m.py"], timeout=timedelta(minutes=1))
    launch = JobLaunch.new(module, event, "secret-value", attempt=3)
    env = sidecar_job_environment(launch, 0, "/tmp/job/")
    config = SidecarConfig.from_mapping({**env, "SHARED_SECRET": "secret-value"})
    assert config.port == 0
    assert config.base_dir == Path("/tmp/job")
    assert (config.event_id, config.correlation_id) == (event.id, event.id)
    assert config.event_type == "image_uploaded"
    assert config.module == "detector"
    assert config.job_id == launch.record.job_id == job_id(event.id, "detector") and config.attempt == 3
    assert config.publishes == ["a", "b"]
    assert "secret-value" not in repr(config)


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SHARED_SECRET": "s", "ION_EVENT_ID": "e", "ION_CORRELATION_ID": "c",
                        "ION_EVENT_TYPE": "t", "ION_MODULE_NAME": "m", "ION_PUBLISHES": " x , y,,",
                        "ION_SIDECAR_GRACE_SECONDS": "0.5", "SIDECAR_PORT": "9001"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ION_JOB_ID", raising=False)
    config = SidecarConfig()
    assert config.publishes == ["x", "y"]
    assert config.grace_seconds == 0.5 and config.port == 9001
    assert config.job_id == job_id("e", "m")  # derived as the dispatcher derives it


def test_missing_variables_are_named_without_values() -> None:
    with pytest.raises(ValidationError) as caught:
        SidecarConfig.from_mapping({"SHARED_SECRET": "top-secret-value", "SIDECAR_PORT": "not-a-port"})
    problem = config_problem(caught.value)
    for name in ("ION_EVENT_ID", "ION_CORRELATION_ID", "ION_EVENT_TYPE", "ION_MODULE_NAME", "SIDECAR_PORT"):
        assert name in problem
    assert "top-secret-value" not in problem
