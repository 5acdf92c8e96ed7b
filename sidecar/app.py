"""The Quart app: `/ready`, `/done` and `/healthz` of the module contract."""

from __future__ import annotations

import asyncio
import enum
import hmac
import logging
from dataclasses import dataclass, field
from typing import Any

from quart import Quart, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from shared.contract import (
    CommitResult,
    ContractError,
    SidecarConfig,
    commit_outputs,
    prepare_inputs,
    validate_outputs,
)
from shared.providers import Providers

log = logging.getLogger("ion.sidecar")
STATE_KEY = "ion.sidecar"


class Phase(enum.Enum):
    NEW = "new"
    PREPARING = "preparing"
    READY = "ready"
    COMMITTING = "committing"
    DONE = "done"


@dataclass
class SidecarState:
    """One sidecar's progress through the contract; lives on its app, never global."""

    phase: Phase = Phase.NEW
    finished: asyncio.Event = field(default_factory=asyncio.Event)  # set after a successful /done
    result: CommitResult | None = None


def sidecar_state(app: Quart) -> SidecarState:
    state: SidecarState = app.extensions[STATE_KEY]
    return state


def _error(status_code: int, message: str) -> tuple[Response, int]:
    return jsonify({"statusCode": status_code, "message": message}), status_code


def _presented_secret() -> str | None:
    secret = request.headers.get("secret")
    if secret is not None:
        return secret
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def create_app(config: SidecarConfig, providers: Providers) -> Quart:
    app = Quart("ion-sidecar")
    state = SidecarState()
    app.extensions[STATE_KEY] = state
    expected = config.shared_secret.get_secret_value().encode()

    def authorized() -> bool:
        presented = _presented_secret()
        # Constant time; compare bytes so non-ASCII input cannot raise.
        return presented is not None and hmac.compare_digest(presented.encode(), expected)

    @app.route("/healthz", methods=["GET"])
    async def healthz() -> Any:
        return jsonify({"statusCode": 200, "message": "ok", "phase": state.phase.value})

    @app.route("/ready", methods=["GET", "POST"])
    async def ready() -> Any:
        if not authorized():
            return _error(401, "missing or wrong secret")
        if state.phase is not Phase.NEW:
            return _error(409, "/ready was already called")
        state.phase = Phase.PREPARING
        try:
            context = await asyncio.to_thread(prepare_inputs, config, providers)
        except ContractError as error:
            state.phase = Phase.NEW
            log.error("/ready failed: %s", error.message)
            return _error(error.status_code, error.message)
        except Exception as error:
            state.phase = Phase.NEW  # nothing was handed to the module yet: /ready may be called again
            log.exception("/ready failed")
            return _error(500, f"preparing in/ failed: {type(error).__name__}: {error}")
        state.phase = Phase.READY
        log.info("ready: event %s with %d file(s)", context.id, len(context.files))
        return jsonify({"statusCode": 200, "message": "ready", "event_id": context.id,
                        "files": sorted(context.files)})

    @app.route("/done", methods=["GET", "POST"])
    async def done() -> Any:
        if not authorized():
            return _error(401, "missing or wrong secret")
        if state.phase in (Phase.NEW, Phase.PREPARING):
            return _error(409, "/done before /ready completed")
        if state.phase is not Phase.READY:
            return _error(409, "/done was already called")
        state.phase = Phase.COMMITTING
        def validate_then_commit() -> CommitResult:
            return commit_outputs(validate_outputs(config), config, providers)

        try:
            result = await asyncio.to_thread(validate_then_commit)
        except ContractError as error:
            state.phase = Phase.READY  # nothing was committed: the module may fix out/ and call again
            log.error("/done refused: %s", error.message)
            return _error(error.status_code, error.message)
        except Exception as error:
            # Every commit step is idempotent, so a repeated /done completes what this one started.
            state.phase = Phase.READY
            log.exception("/done failed while committing")
            return _error(500, f"committing out/ failed: {type(error).__name__}: {error}")
        state.phase = Phase.DONE
        state.result = result
        state.finished.set()
        log.info("done: %d file(s), %d event(s)", len(result.files), len(result.events))
        return jsonify({
            "statusCode": 200,
            "message": "done",
            "files": sorted(result.files),
            "insight": result.insight.execution_id if result.insight else None,
            "events": [{"id": c.id, "type": c.type} for c in result.events],
        })

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        return _error(code, error.description or error.name)

    return app
