"""The sidecar's HTTP contract on a real Hypercorn server with the embedded providers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.ids import child_event_id
from shared.models import execution_id
from tests.integration.test_sidecar_support import (
    SECRET,
    Stores,
    make_config,
    make_stores,
    seed_event,
    served,
)


@pytest.fixture
def stores(tmp_path: Path) -> Stores:
    return make_stores(tmp_path)


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def assert_nothing_committed(stores: Stores) -> None:
    assert stores.calls == []
    assert stores.published("face_detected") == []
    assert stores.published("no_face") == []
    assert stores.metadata.insights("corr-1") == []
    assert [c.id for c in stores.metadata.event_contexts("corr-1")] == ["parent-event-1"]


async def test_healthz_needs_no_secret(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        response = await sidecar.client.get("/healthz")
        assert response.status_code == 200


@pytest.mark.parametrize("headers", [{}, {"secret": "wrong"}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": f"Basic {SECRET}"}, {"secret": SECRET[:-1]}])
async def test_wrong_or_missing_secret_is_401_and_changes_nothing(
    stores: Stores, tmp_path: Path, headers: dict[str, str]
) -> None:
    seed_event(stores, tmp_path, files={"a.txt": b"a"})
    # Outputs a wrongly accepted /done would commit.
    (tmp_path / "job" / "out" / "data").mkdir(parents=True)
    (tmp_path / "job" / "out" / "data" / "result.txt").write_text("result")
    (tmp_path / "job" / "out" / "meta.json").write_text('{"k": "v"}')
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        for path in ("/ready", "/done"):
            response = await sidecar.client.get(path, headers=headers)
            assert response.status_code == 401
            body = response.json()
            assert body["statusCode"] == 401
            assert SECRET not in response.text
        # Refused calls did not use up /ready: the right secret still works.
        assert (await sidecar.call("/ready")).status_code == 200
    assert stores.calls == []


async def test_both_secret_header_forms_are_accepted(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        ready = await sidecar.client.post("/ready", headers={"Authorization": f"Bearer {SECRET}"})
        assert ready.status_code == 200, ready.text
        done = await sidecar.client.post("/done", headers={"secret": SECRET})
        assert done.status_code == 200, done.text


async def test_done_before_ready_is_409(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    write_json(tmp_path / "job" / "out" / "meta.json", {"k": "v"})
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        response = await sidecar.call("/done")
        assert response.status_code == 409
        assert response.json() == {"statusCode": 409, "message": "/done before /ready completed"}
    assert_nothing_committed(stores)


async def test_ready_twice_and_done_twice_are_409(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    write_json(tmp_path / "job" / "out" / "events" / "e1.json", {"eventType": "face_detected"})
    async with served(make_config(tmp_path / "job"), stores.providers,
                      exit_after_done=False) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        second_ready = await sidecar.call("/ready")
        assert second_ready.status_code == 409
        assert (await sidecar.call("/done")).status_code == 200
        second_done = await sidecar.call("/done", method="POST")
        assert second_done.status_code == 409
        assert second_done.json()["message"] == "/done was already called"
    # The second /done published nothing more.
    assert len(stores.published("face_detected")) == 1


async def test_ready_delivers_files_in_sub_folders_and_meta_and_event(stores: Stores, tmp_path: Path) -> None:
    context = seed_event(
        stores, tmp_path, data={"camera": "north", "width": "640"},
        files={"image0.png": b"\x89PNG one", "crops/deep/image1.png": b"\x89PNG two"},
    )
    job = tmp_path / "job"
    async with served(make_config(job), stores.providers) as sidecar:
        response = await sidecar.call("/ready")
        assert response.status_code == 200, response.text
    assert (job / "in" / "data" / "image0.png").read_bytes() == b"\x89PNG one"
    assert (job / "in" / "data" / "crops" / "deep" / "image1.png").read_bytes() == b"\x89PNG two"
    assert json.loads((job / "in" / "meta.json").read_text()) == [
        {"key": "camera", "value": "north"}, {"key": "width", "value": "640"},
    ]
    event = json.loads((job / "in" / "event.json").read_text())
    assert event["id"] == "parent-event-1"
    assert event["type"] == "image_uploaded"
    assert event["correlation_id"] == "corr-1"
    assert event["parent_event_id"] == "grandparent-0"
    assert event["data"] == {"camera": "north", "width": "640"}
    assert event["files"] == ["crops/deep/image1.png", "image0.png"]
    assert set(context.files) == set(event["files"])
    # The module may write its outputs straight away.
    assert (job / "out" / "data").is_dir() and (job / "out" / "events").is_dir()
    assert stores.calls == []  # /ready stores nothing


async def test_ready_replaces_links_planted_in_in_and_writes_nothing_through_them(
    stores: Stores, tmp_path: Path
) -> None:
    seed_event(stores, tmp_path, data={"camera": "north"}, files={"image0.png": b"\x89PNG one"})
    job, outside = tmp_path / "job", tmp_path / "outside"
    outside.mkdir()
    (job / "in" / "data").mkdir(parents=True)
    # Links where /ready writes, and where it once wrote its temporary files.
    for name in ("meta.json", "event.json", "data/image0.png", "event.json.partial", "meta.json.partial"):
        (outside / Path(name).name).write_text("keep")
        (job / "in" / name).symlink_to(outside / Path(name).name)
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
    assert [path.read_text() for path in outside.iterdir()] == ["keep"] * 5
    for name in ("meta.json", "event.json", "data/image0.png"):
        assert not (job / "in" / name).is_symlink()
    assert (job / "in" / "data" / "image0.png").read_bytes() == b"\x89PNG one"
    assert json.loads((job / "in" / "event.json").read_text())["id"] == "parent-event-1"
    assert json.loads((job / "in" / "meta.json").read_text()) == [{"key": "camera", "value": "north"}]


async def test_ready_without_data_writes_no_meta_json(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    job = tmp_path / "job"
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
    assert not (job / "in" / "meta.json").exists()
    assert json.loads((job / "in" / "event.json").read_text())["files"] == []


async def test_ready_for_a_missing_event_context_is_500_and_can_be_retried(
    stores: Stores, tmp_path: Path
) -> None:
    job = tmp_path / "job"
    async with served(make_config(job), stores.providers) as sidecar:
        failed = await sidecar.call("/ready")
        assert failed.status_code == 500
        assert "parent-event-1" in failed.json()["message"]
        seed_event(stores, tmp_path)
        assert (await sidecar.call("/ready")).status_code == 200


def bad_outputs() -> list[tuple[str, Any, str]]:
    """(event file name, content, expected words in the message)."""
    return [
        ("e1.json", [{"key": "eventType", "value": "cat_detected"}],
         "out/events/e1.json: eventType 'cat_detected' is not in publishes [face_detected, no_face]"),
        ("e2.json", {"eventType": "nope", "files": []},
         "out/events/e2.json: eventType 'nope' is not in publishes"),
        ("e3.json",
         [{"key": "eventType", "value": "face_detected"}, {"key": "files", "value": "../secret.txt"}],
         "out/events/e3.json: files entry '../secret.txt' contains '..'"),
        ("e4.json", {"eventType": "face_detected", "files": ["/etc/passwd"]},
         "out/events/e4.json: files entry '/etc/passwd' is absolute"),
        ("e5.json", {"eventType": "face_detected", "files": ["missing.png"]},
         "out/events/e5.json: files entry 'missing.png' does not exist in out/data"),
        ("e6.json", [{"key": "files", "value": "face.png"}], "out/events/e6.json: eventType is required"),
        ("e7.json", "not an event", "out/events/e7.json: must be a list"),
    ]


@pytest.mark.parametrize(("name", "content", "message"), bad_outputs())
async def test_invalid_event_is_400_naming_file_and_commits_nothing(
    stores: Stores, tmp_path: Path, name: str, content: Any, message: str
) -> None:
    seed_event(stores, tmp_path)
    job = tmp_path / "job"
    # A valid event and files beside the bad one: none of them may be committed.
    write_file(job / "out" / "data" / "face.png", b"face")
    write_json(job / "out" / "meta.json", [{"key": "faces", "value": "1"}])
    write_json(job / "out" / "events" / "e0.json", {"eventType": "face_detected", "files": ["face.png"]})
    write_json(job / "out" / "events" / name, content)
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        response = await sidecar.call("/done")
        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400
        assert message in body["message"]
    assert_nothing_committed(stores)


async def test_symlink_out_of_out_data_is_400_and_commits_nothing(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    job = tmp_path / "job"
    outside = tmp_path / "private.txt"
    outside.write_text("not for the blob store")
    (job / "out" / "data").mkdir(parents=True)
    os.symlink(outside, job / "out" / "data" / "leak.txt")
    write_json(job / "out" / "events" / "e1.json", {"eventType": "face_detected", "files": ["leak.txt"]})
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        response = await sidecar.call("/done")
        assert response.status_code == 400
        assert "leak.txt" in response.json()["message"]
        assert "symlink" in response.json()["message"]
    assert_nothing_committed(stores)


async def test_out_replaced_by_a_link_after_ready_is_400_and_reads_nothing_through_it(
    stores: Stores, tmp_path: Path
) -> None:
    seed_event(stores, tmp_path)
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    # Somewhere with the shape of out/: every check inside it would pass, since both sides resolve.
    write_file(elsewhere / "data" / "token", b"not for the blob store")
    write_json(elsewhere / "events" / "e1.json", {"eventType": "face_detected", "files": ["token"]})
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        (job / "out" / "data").rmdir()
        (job / "out" / "events").rmdir()
        (job / "out").rmdir()
        (job / "out").symlink_to(elsewhere)
        response = await sidecar.call("/done")
        assert response.status_code == 400
        assert response.json()["message"].startswith("out/: is a symlink")
    assert_nothing_committed(stores)


@pytest.mark.parametrize("linked", ["in", "in/data", "out"])
async def test_ready_refuses_a_link_on_the_way_to_its_folders_and_writes_nothing_through_it(
    stores: Stores, tmp_path: Path, linked: str
) -> None:
    seed_event(stores, tmp_path, data={"camera": "north"}, files={"image0.png": b"\x89PNG one"})
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (job / linked).parent.mkdir(parents=True, exist_ok=True)
    (job / linked).symlink_to(elsewhere)
    async with served(make_config(job), stores.providers) as sidecar:
        response = await sidecar.call("/ready")
        assert response.status_code == 500
        assert response.json()["message"] == f"{linked}/ is a symlink; it must be a folder of the shared directory"
        assert (await sidecar.call("/healthz")).json()["phase"] == "new"  # /ready may be called again
    assert list(elsewhere.iterdir()) == []


async def test_a_refused_done_can_be_fixed_and_called_again(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    job = tmp_path / "job"
    async with served(make_config(job), stores.providers, exit_after_done=False) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        write_json(job / "out" / "events" / "e1.json", {"eventType": "face_detected", "files": ["f.png"]})
        assert (await sidecar.call("/done")).status_code == 400
        assert stores.calls == []
        write_file(job / "out" / "data" / "f.png", b"f")
        assert (await sidecar.call("/done")).status_code == 200
    assert [e.type for e in stores.published("face_detected")] == ["face_detected"]


async def run_valid_job(stores: Stores, tmp_path: Path, job: Path) -> dict[str, Any]:
    write_file(job / "out" / "data" / "image0.png", b"zero")
    write_file(job / "out" / "data" / "crops" / "image1.png", b"one")
    write_file(job / "out" / "data" / "debug.log", b"kept as an insight file only")
    write_json(job / "out" / "meta.json", [{"key": "faces", "value": "2"}, {"key": "model", "value": "v3"}])
    write_json(job / "out" / "events" / "b.json", [
        {"key": "eventType", "value": "face_detected"},
        {"key": "files", "value": "image0.png, crops/image1.png"},
        {"key": "confidence", "value": "0.93"},
    ])
    write_json(job / "out" / "events" / "a.json",
               {"eventType": "no_face", "files": ["crops/image1.png"], "data": {"why": "blurry"}})
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        response = await sidecar.call("/done")
        assert response.status_code == 200, response.text
        # After a successful /done the sidecar stops by itself (grace 0 here).
        assert await sidecar.task is True
    result: dict[str, Any] = response.json()
    return result


async def test_valid_outputs_commit_files_insight_contexts_then_publish(
    stores: Stores, tmp_path: Path
) -> None:
    seed_event(stores, tmp_path, files={"input.png": b"in"})
    await run_valid_job(stores, tmp_path, tmp_path / "job")

    kinds = [(provider, method) for provider, method, _ in stores.calls]
    assert kinds == [
        ("blob", "put"), ("blob", "put"), ("blob", "put"),
        ("metadata", "put_insight"),
        ("metadata", "put_event_context"), ("metadata", "put_event_context"),
        ("bus", "publish"), ("bus", "publish"),
    ]
    blob_names = [argument for _, method, argument in stores.calls if method == "put"]
    assert sorted(blob_names) == [
        "corr-1/parent-event-1/detector/crops/image1.png",
        "corr-1/parent-event-1/detector/debug.log",
        "corr-1/parent-event-1/detector/image0.png",
    ]

    insight = stores.metadata.insights("corr-1")[0]
    assert insight.execution_id == execution_id("detector-job-1", 1)
    assert insight.job_id == "detector-job-1"
    assert insight.event_id == "parent-event-1"
    assert insight.module == "detector"
    assert insight.data == {"faces": "2", "model": "v3"}
    assert sorted(insight.files) == ["crops/image1.png", "debug.log", "image0.png"]

    # Event files are processed in sorted name order: a.json before b.json.
    published_contexts = [argument for _, method, argument in stores.calls if method == "put_event_context"]
    assert [c.type for c in published_contexts] == ["no_face", "face_detected"]
    face_id = child_event_id("parent-event-1", "detector", "b.json")
    face = stores.metadata.get_event_context(face_id)
    assert face is not None
    assert face.correlation_id == "corr-1"
    assert face.parent_event_id == "parent-event-1"
    assert face.producer == "detector"
    assert face.data == {"confidence": "0.93"}
    assert sorted(face.files) == ["crops/image1.png", "image0.png"]
    assert face.files["image0.png"] == insight.files["image0.png"]

    [message] = stores.published("face_detected")
    assert message.id == face_id and message.data == {"confidence": "0.93"}
    [other] = stores.published("no_face")
    assert other.id == child_event_id("parent-event-1", "detector", "a.json")
    assert other.data == {"why": "blurry"}

    # The next module gets the same relative paths in its in/data.
    stores.calls.clear()
    next_job = tmp_path / "next"
    config = make_config(next_job, ION_EVENT_ID=face_id, ION_MODULE_NAME="cropper", ION_PUBLISHES="")
    async with served(config, stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
    assert (next_job / "in" / "data" / "image0.png").read_bytes() == b"zero"
    assert (next_job / "in" / "data" / "crops" / "image1.png").read_bytes() == b"one"
    assert json.loads((next_job / "in" / "meta.json").read_text()) == [{"key": "confidence", "value": "0.93"}]


async def test_a_second_run_of_the_same_job_republishes_the_same_event_ids(
    stores: Stores, tmp_path: Path
) -> None:
    seed_event(stores, tmp_path)
    first = await run_valid_job(stores, tmp_path, tmp_path / "attempt1")
    second = await run_valid_job(stores, tmp_path, tmp_path / "attempt2")
    assert [e["id"] for e in first["events"]] == [e["id"] for e in second["events"]]
    assert len(first["events"]) == 2
    # Overwritten in place: still one context per child event.
    assert len(stores.metadata.event_contexts("corr-1")) == 3


async def test_insight_object_form_and_no_events(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    job = tmp_path / "job"
    write_json(job / "out" / "meta.json", {"faces": 0, "scores": [0.1, 0.2], "source": {"camera": "n"}})
    async with served(make_config(job), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        response = await sidecar.call("/done")
        assert response.status_code == 200, response.text
    [insight] = stores.metadata.insights("corr-1")
    assert insight.data == {"faces": 0, "scores": [0.1, 0.2], "source": {"camera": "n"}}
    assert insight.files == {}
    assert [method for _, method, _ in stores.calls] == ["put_insight"]


async def test_empty_out_stores_nothing(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        response = await sidecar.call("/done")
        assert response.status_code == 200
        assert response.json()["insight"] is None
    assert stores.calls == []


async def test_shutdown_before_done_returns_false(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        assert (await sidecar.call("/ready")).status_code == 200
        sidecar.shutdown.set()
        assert await sidecar.task is False


async def test_unknown_path_answers_json(stores: Stores, tmp_path: Path) -> None:
    seed_event(stores, tmp_path)
    async with served(make_config(tmp_path / "job"), stores.providers) as sidecar:
        response = await sidecar.call("/nowhere")
        assert response.status_code == 404
        assert response.json()["statusCode"] == 404
