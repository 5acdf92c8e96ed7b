"""Serving one sidecar with Hypercorn inside the caller's event loop.

Many sidecars can run in one loop (the local executor does): no globals, no signal handlers, no exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config as HypercornConfig

from shared.contract import SidecarConfig
from shared.providers import Providers
from sidecar.app import create_app, sidecar_state

log = logging.getLogger("ion.sidecar")


class CannotListen(OSError):
    """The sidecar's address is taken or not available."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one with no window for another process to take it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)  # connections made before Hypercorn accepts wait in the backlog
    except OSError as error:
        sock.close()
        raise CannotListen(error.errno, f"cannot listen on {host}:{port}: {error.strerror}") from error
    except BaseException:
        sock.close()
        raise
    return sock


async def serve(
    config: SidecarConfig,
    providers: Providers,
    *,
    host: str = "127.0.0.1",
    shutdown: asyncio.Event | None = None,
    on_listening: Callable[[int], None] | None = None,
    exit_after_done: bool = True,
) -> bool:
    """Serve the contract until a successful /done plus the grace period, or until `shutdown` is set.

    Returns True when a /done succeeded (everything committed), False otherwise. `config.port` 0
    binds any free port; `on_listening` gets the real one once connections are accepted.
    `exit_after_done=False` keeps serving after /done until `shutdown` (development mode).
    """
    app = create_app(config, providers)
    state = sidecar_state(app)
    stop = shutdown or asyncio.Event()
    sock = bind_socket(host, config.port)
    port = sock.getsockname()[1]

    hyper = HypercornConfig()
    # Hypercorn takes the descriptor over and closes it; detach so it is closed exactly once.
    hyper.bind = [f"fd://{sock.detach()}"]
    hyper.accesslog = None  # the sidecar logs what it does for the job; request lines add nothing
    # Through logging, not Hypercorn's own stderr handler: a host running many sidecars decides.
    hyper.errorlog = logging.getLogger("ion.sidecar.hypercorn")
    hyper.graceful_timeout = 5.0

    async def finished_then_grace() -> None:
        await state.finished.wait()
        if not exit_after_done:
            await asyncio.Future()  # forever: only `stop` ends the server
        await asyncio.sleep(config.grace_seconds)

    async def trigger() -> None:
        waiters = [asyncio.ensure_future(finished_then_grace()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    log.info("sidecar for %s (event %s) listening on %s:%d", config.module, config.event_id, host, port)
    if on_listening is not None:
        on_listening(port)
    await hypercorn_serve(app, hyper, shutdown_trigger=trigger, mode="asgi")
    # A /done that succeeded committed everything, even if `shutdown` cut the grace period short.
    return state.finished.is_set()
