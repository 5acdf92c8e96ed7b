"""POST /api/events (function-level auth): publish a first event, storing uploaded files in blob storage.

Answers 202 with {"event_id", "correlation_id", "type", "files"}; a bad request gets 400 and a JSON
message naming the problem; a store or bus that cannot be reached gets 503 (safe to retry: nothing was
published). Errors use the sidecar's shape: {"statusCode": ..., "message": ...}.
"""

# No `from __future__ import annotations` here: the worker reads the trigger's parameter types at indexing.

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import azure.functions as func

from dispatcher_functions import context
from dispatcher_functions.submit_request import BadRequest, SubmitRequest, parse_submit_request
from shared.errors import InvalidName
from shared.submit import submit_event

log = logging.getLogger("ion.functions.submit")

FUNCTION_NAME = "submit"
ROUTE = "events"


def _json(status: int, document: dict[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")


def _error(status: int, message: str) -> func.HttpResponse:
    return _json(status, {"statusCode": status, "message": message})


def _publish(app: context.AppContext, request: SubmitRequest) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ion-submit-") as folder:
        paths: dict[str, Path] = {}
        for index, (name, upload) in enumerate(request.files.items()):
            # Local names are ours: the upload's own name may hold folders and is only the blob name.
            path = Path(folder) / f"upload-{index}"
            upload.save(str(path))
            paths[name] = path
        providers = app.providers
        event = submit_event(
            providers.bus, providers.metadata, providers.blob, request.event_type, request.data, paths
        )
    return {
        "event_id": event.id,
        "correlation_id": event.correlation_id,
        "type": event.type,
        "files": sorted(event.files),
    }


def submit(req: func.HttpRequest) -> func.HttpResponse:
    try:
        app = context.current()
    except Exception as exc:
        log.error("submit: the app could not open its stores: %s", exc)
        return _error(503, f"Ion is not ready to accept events ({type(exc).__name__}); retry later")
    try:
        request = parse_submit_request(
            req, app.manifest, app.functions.submit_max_bytes, app.settings.max_event_bytes
        )
        answer = _publish(app, request)
    except BadRequest as exc:
        return _error(400, str(exc))
    except InvalidName as exc:
        return _error(400, f"bad file name: {exc}")
    except Exception as exc:
        log.error("submit: publishing the event failed: %s", exc)
        return _error(503, f"the event could not be published ({type(exc).__name__}); retry later")
    log.info("submitted event %s (%s) with %d file(s)",
             answer["event_id"], answer["type"], len(answer["files"]))
    return _json(202, answer)


def build_blueprint() -> func.Blueprint:
    blueprint = func.Blueprint()
    decorate_name = blueprint.function_name(name=FUNCTION_NAME)
    decorate_route = blueprint.route(
        route=ROUTE, methods=[func.HttpMethod.POST], auth_level=func.AuthLevel.FUNCTION
    )
    decorate_name(decorate_route(submit))
    return blueprint
