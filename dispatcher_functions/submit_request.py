"""Reading a submit request: a JSON body or a multipart/url-encoded form, checked before anything is stored.

JSON:       {"type": "new_link", "data": {"url": "https://..."}}
Form:       type=new_link, data={"url": "..."} (a JSON object) or data=url=https://... (k=v, repeatable),
            any other plain field k=v, and uploaded files (the upload's file name is the name the module
            sees under in/data/; sub-folders allowed).
Every problem raises BadRequest with a message naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
from werkzeug.datastructures import FileStorage
from werkzeug.http import parse_options_header

from shared.blob.base import check_blob_name
from shared.errors import InvalidName
from shared.manifest import Manifest
from shared.models import EVENT_TYPE_PATTERN, Event

JSON_FIELDS = ("type", "data")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class BadRequest(Exception):
    """The request can never succeed as sent; the message says why (answered with 400)."""


@dataclass
class SubmitRequest:
    event_type: str
    data: dict[str, str] = field(default_factory=dict)
    files: dict[str, FileStorage] = field(default_factory=dict)  # name under in/data/ -> upload


def parse_submit_request(
    req: func.HttpRequest, manifest: Manifest, max_body_bytes: int, max_event_bytes: int
) -> SubmitRequest:
    body = req.get_body() or b""
    if len(body) > max_body_bytes:
        raise BadRequest(
            f"request body is {len(body)} bytes, over the limit of {max_body_bytes} bytes "
            "(ION_SUBMIT_MAX_BYTES)"
        )
    mimetype, _ = parse_options_header(req.headers.get("Content-Type", ""))
    if mimetype in FORM_TYPES:
        request = _from_form(req)
    elif mimetype in ("application/json", "") or mimetype.endswith("+json"):
        request = _from_json(body)
    else:
        raise BadRequest(
            f"unsupported Content-Type {mimetype!r}: send application/json or multipart/form-data"
        )
    _check_type(request.event_type, manifest)
    encoded = len(Event.new(request.event_type, request.data).model_dump_json().encode())
    if encoded > max_event_bytes:
        raise BadRequest(
            f"event data is {encoded} bytes encoded, over the limit of {max_event_bytes} bytes "
            "(ION_MAX_EVENT_BYTES); send large values as files"
        )
    return request


def _from_json(body: bytes) -> SubmitRequest:
    if not body.strip():
        raise BadRequest("missing request body: send {\"type\": ..., \"data\": {...}}")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(document).__name__}")
    unknown = sorted(set(document) - set(JSON_FIELDS))
    if "files" in unknown:
        raise BadRequest("field 'files': upload files as multipart/form-data")
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(map(repr, unknown))}: expected 'type' and 'data'")
    event_type = document.get("type")
    if event_type is None or event_type == "":
        raise BadRequest("field 'type' is missing: name the event type to publish")
    if not isinstance(event_type, str):
        raise BadRequest(f"field 'type' must be a string, got {type(event_type).__name__}")
    data = document.get("data", {})
    return SubmitRequest(event_type, _string_map(data, "data"))


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"field '{where}' must be an object of string keys to string values")
    for key, item in value.items():
        if not key:
            raise BadRequest(f"field '{where}' has an empty key")
        if not isinstance(item, str):
            raise BadRequest(
                f"field '{where}.{key}' must be a string, got {type(item).__name__} "
                "(event data maps strings to strings)"
            )
    return dict(value)


def _from_form(req: func.HttpRequest) -> SubmitRequest:
    try:
        form, uploads = req.form, req.files
    except Exception as exc:  # werkzeug's parser: missing boundary, truncated parts
        raise BadRequest(f"malformed form body: {exc}") from None
    types = form.getlist("type")
    if not types or not types[0]:
        raise BadRequest("field 'type' is missing: name the event type to publish")
    if len(types) > 1:
        raise BadRequest("field 'type' is given more than once")
    data: dict[str, str] = {}

    def add(key: str, value: str) -> None:
        if not key:
            raise BadRequest("a data field has an empty key")
        if key in data:
            raise BadRequest(f"data key {key!r} is given more than once")
        data[key] = value

    for text in form.getlist("data"):
        if text.lstrip().startswith("{"):
            try:
                document = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadRequest(f"field 'data' is not a valid JSON object: {exc}") from None
            for key, value in _string_map(document, "data").items():
                add(key, value)
        else:
            key, sep, value = text.partition("=")
            if not sep:
                raise BadRequest(f"field 'data' value {text!r} must be a JSON object or key=value")
            add(key, value)
    for key in form:
        if key not in ("type", "data"):
            for value in form.getlist(key):
                add(key, value)
    files: dict[str, FileStorage] = {}
    for field_name, upload in uploads.items(multi=True):
        name = upload.filename or ""
        if not name:
            raise BadRequest(f"bad file name: the upload in field {field_name!r} has no file name")
        try:
            check_blob_name(name)
        except InvalidName as exc:
            raise BadRequest(f"bad file name {name!r}: {exc}") from None
        if name in files:
            raise BadRequest(f"bad file name {name!r}: uploaded more than once")
        files[name] = upload
    return SubmitRequest(types[0], data, files)


def _check_type(event_type: str, manifest: Manifest) -> None:
    if not EVENT_TYPE_PATTERN.match(event_type):
        raise BadRequest(
            f"field 'type': invalid event type name {event_type!r}: it must start with a letter or digit "
            "and contain only letters, digits, '.', '_' or '-' (at most 100 characters)"
        )
    if not manifest.subscribers(event_type):
        known = ", ".join(sorted({m.subscribes_to for m in manifest}))
        raise BadRequest(
            f"field 'type': no module subscribes to event type {event_type!r} (subscribed types: {known})"
        )
