"""POST /api/events, called through the function with azure.functions.HttpRequest objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from shared.models import Event, JobStatus
from tests.functions.conftest import LoadedApp, sb_message

URL = "http://localhost:7071/api/events"


def json_request(document: Any, content_type: str = "application/json") -> func.HttpRequest:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return func.HttpRequest("POST", URL, headers={"Content-Type": content_type}, body=body)


def multipart_request(fields: list[tuple[str, str]], files: list[tuple[str, str, bytes]]) -> func.HttpRequest:
    boundary = "ion-test-boundary-7d3a"
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for field, filename, content in files:
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return func.HttpRequest(
        "POST", URL, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}, body=body
    )


def submit(loaded: LoadedApp, request: func.HttpRequest) -> tuple[int, dict[str, Any]]:
    response = loaded.call("submit", request)
    assert isinstance(response, func.HttpResponse)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


def published(loaded: LoadedApp, subscription: str) -> list[Event]:
    bus = loaded.context.providers.bus
    messages = bus.receive(subscription, 10, 30.0, 0.0)
    for message in messages:
        bus.abandon(message)
    return [Event.model_validate_json(m.body) for m in messages]


def test_a_json_submit_publishes_one_event(loaded: LoadedApp) -> None:
    status, answer = submit(loaded, json_request({"type": "new_link", "data": {"url": "https://x.org/v"}}))
    assert status == 202
    assert answer["event_id"] and answer["correlation_id"] == answer["event_id"]
    assert answer["files"] == []

    events = published(loaded, "link-splitter")
    assert [(e.id, e.type, e.data) for e in events] == [(answer["event_id"], "new_link", {"url": "https://x.org/v"})]
    assert published(loaded, "classifier") == []
    context = loaded.context.providers.metadata.get_event_context(answer["event_id"])
    assert context is not None and context.producer is None


def test_a_multipart_submit_stores_its_files_and_publishes_one_event(loaded: LoadedApp, tmp_path: Path) -> None:
    video = bytes(range(256)) * 40
    request = multipart_request(
        [("type", "part_ready"), ("data", '{"lang": "en"}'), ("data", "speaker=ada"), ("part", "7")],
        [("file", "video.bin", video), ("file", "subs/en.srt", b"1\n00:00 --> 00:01\nhello\n")],
    )
    status, answer = submit(loaded, request)
    assert status == 202, answer
    assert answer["files"] == ["subs/en.srt", "video.bin"]

    for subscription in ("classifier", "captioner"):
        events = published(loaded, subscription)
        assert [e.id for e in events] == [answer["event_id"]]
        assert events[0].data == {"lang": "en", "speaker": "ada", "part": "7"}

    providers = loaded.context.providers
    context = providers.metadata.get_event_context(answer["event_id"])
    assert context is not None and set(context.files) == {"video.bin", "subs/en.srt"}
    stored = tmp_path / "stored.bin"
    providers.blob.get(providers.blob.name_from_url(context.files["video.bin"]), stored)
    assert stored.read_bytes() == video


def test_a_submitted_event_flows_into_a_dispatcher(loaded: LoadedApp) -> None:
    _, answer = submit(loaded, json_request({"type": "new_link", "data": {"url": "https://x.org/v"}}))
    bus = loaded.context.providers.bus
    (message,) = bus.receive("link-splitter", 1, 30.0, 0.0)
    loaded.call("dispatch_link_splitter", sb_message(message.body, message.message_id, message.delivery_count))
    bus.complete(message)
    (record,) = loaded.context.providers.metadata.jobs(answer["correlation_id"])
    assert record.status == JobStatus.PENDING
    assert [launch.event.id for launch in loaded.executor.launches] == [answer["event_id"]]


@pytest.mark.parametrize(
    ("request_factory", "problem"),
    [
        (lambda: json_request({"data": {"a": "b"}}), "field 'type' is missing"),
        (lambda: json_request({"type": "", "data": {}}), "field 'type' is missing"),
        (lambda: json_request({"type": "new link!"}), "invalid event type name 'new link!'"),
        (lambda: json_request({"type": "nobody_listens"}), "no module subscribes to event type 'nobody_listens'"),
        (lambda: json_request({"type": "new_link", "data": {"n": 3}}), "field 'data.n' must be a string"),
        (lambda: json_request({"type": "new_link", "data": ["a"]}), "field 'data' must be an object"),
        (lambda: json_request({"type": "new_link", "extra": 1}), "unknown field(s) 'extra'"),
        (lambda: json_request({"type": "new_link", "files": ["a"]}), "multipart/form-data"),
        (lambda: json_request(b"{not json"), "not valid JSON"),
        (lambda: json_request(b""), "missing request body"),
        (lambda: json_request(b"<xml/>", "application/xml"), "unsupported Content-Type 'application/xml'"),
        (lambda: multipart_request([("data", "a=b")], []), "field 'type' is missing"),
        (lambda: multipart_request([("type", "new_link"), ("data", "novalue")], []), "key=value"),
        (lambda: multipart_request([("type", "new_link"), ("data", '{"a": 1}')], []), "field 'data.a'"),
        (lambda: multipart_request([("type", "new_link"), ("a", "1"), ("data", "a=2")], []),
         "data key 'a' is given more than once"),
        (lambda: multipart_request([("type", "new_link")], [("file", "../escape.txt", b"x")]),
         "bad file name '../escape.txt'"),
        (lambda: multipart_request([("type", "new_link")], [("file", "/etc/passwd", b"x")]),
         "bad file name '/etc/passwd'"),
        (lambda: multipart_request([("type", "new_link")], [("f", "a.txt", b"x"), ("g", "a.txt", b"y")]),
         "uploaded more than once"),
    ],
)
def test_a_bad_request_gets_400_naming_the_problem(
    loaded: LoadedApp, request_factory: Any, problem: str
) -> None:
    status, answer = submit(loaded, request_factory())
    assert status == 400
    assert answer["statusCode"] == 400
    assert problem in answer["message"]
    assert published(loaded, "link-splitter") == []


def test_a_body_over_the_limit_gets_400(loaded: LoadedApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loaded.context.functions, "submit_max_bytes", 2048)
    request = multipart_request([("type", "new_link")], [("file", "big.bin", b"x" * 4096)])
    status, answer = submit(loaded, request)
    assert status == 400
    assert "over the limit of 2048 bytes (ION_SUBMIT_MAX_BYTES)" in answer["message"]
    assert published(loaded, "link-splitter") == []


def test_event_data_too_large_for_a_message_gets_400(loaded: LoadedApp) -> None:
    limit = loaded.context.settings.max_event_bytes
    status, answer = submit(loaded, json_request({"type": "new_link", "data": {"text": "x" * limit}}))
    assert status == 400
    assert "ION_MAX_EVENT_BYTES" in answer["message"]
    assert published(loaded, "link-splitter") == []


def test_a_bus_that_cannot_be_reached_gets_503_and_publishes_nothing(
    loaded: LoadedApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("bus unreachable")

    monkeypatch.setattr(loaded.context.providers.bus, "send", unreachable)
    status, answer = submit(loaded, json_request({"type": "new_link", "data": {}}))
    assert status == 503
    assert "ConnectionError" in answer["message"] and "retry later" in answer["message"]
