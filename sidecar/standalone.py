"""The sidecar of one job, configured from the environment: what the sidecar image runs.

Kept light on purpose: no command-line framework, and the message bus and metadata store opened on
first use, so the sidecar answers /healthz quickly and idles small whatever the providers. Once it
listens, the blob store opens and the job's folders are made in the background, while the module
starts, ready for its first /ready.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import ValidationError

from shared.contract import ContractError, SidecarConfig
from shared.contract.inputs import make_layout
from shared.providers import LazyProviders, Providers
from shared.settings import IonSettings
from sidecar.allocator import keep_transfer_buffers

log = logging.getLogger("ion.sidecar")

T = TypeVar("T")


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Azure SDKs log every request and response, headers included, at INFO: a 1 GiB upload is
    # hundreds of records that cost time and say nothing the sidecar's own lines do not.
    logging.getLogger("azure").setLevel(logging.WARNING)


def config_problem(error: ValidationError) -> str:
    """Name the variable and the problem, never the value: SHARED_SECRET is one of them."""
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        alias = SidecarConfig.model_fields.get(field)
        name = alias.validation_alias if alias and isinstance(alias.validation_alias, str) else field
        problems.append(f"{name}: {item['msg']}")
    return "; ".join(problems)


async def serve_until_signal(
    config: SidecarConfig,
    providers: Providers,
    host: str,
    *,
    on_listening: Callable[[int], None] | None = None,
    exit_after_done: bool = True,
) -> bool:
    """Serve until /done (plus grace) or SIGTERM/SIGINT; True when /done succeeded."""
    from sidecar.server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await serve(config, providers, host=host, shutdown=stop, on_listening=on_listening,
                           exit_after_done=exit_after_done)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


EMBEDDED = frozenset({"sqlite", "memory"})


def opened_ahead(settings: IonSettings) -> list[str]:
    """The providers to open once the sidecar listens, before the module's first call.

    The blob store carries the job's data: have it open (SDK loaded, container checked) before
    /ready. Embedded stores cost nothing to open, so they open too (last: the blob store comes first).
    A cloud bus or metadata SDK would add several MiB to every idle sidecar, so those open on first use.
    """
    ahead = ["blob"]
    if settings.metadata in EMBEDDED:
        ahead.append("metadata")
    if settings.messaging in EMBEDDED:
        ahead.append("bus")
    return ahead


def on_the_contract_thread(main: Awaitable[T]) -> T:
    """Run `main` in a new event loop whose default executor is one thread: the contract's thread.

    /ready and /done run their store calls there (one job's calls come one at a time), and the
    embedded stores keep a connection per thread: opened ahead on that same thread, theirs is the
    one the module's calls use. A pool of several threads could hand a call to a fresh thread.
    """
    async def with_one_thread() -> T:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="ion-contract"))
        return await main

    return asyncio.run(with_one_thread())


def open_where_the_contract_runs(
    providers: LazyProviders, kinds: list[str], layout_of: SidecarConfig | None = None
) -> asyncio.Future[None]:
    """Open `kinds`, then make the job's folders (for `layout_of`), on the loop's default executor:
    in the standalone sidecar, the contract's thread. A /ready that comes sooner waits its turn there."""
    def ahead() -> None:
        providers.open_ahead(*kinds)
        if layout_of is not None:
            try:
                make_layout(layout_of)
            except (OSError, ContractError) as error:
                log.warning("making the job's folders ahead failed (retried on /ready): %s", error)

    return asyncio.get_running_loop().run_in_executor(None, ahead)


def run_standalone(host: str = "127.0.0.1") -> int:
    """Serve the job's contract; 0 after a successful /done, 2 for a bad environment, 1 if it cannot listen."""
    configure_logging()
    try:
        config = SidecarConfig()  # filled from the environment
    except ValidationError as error:
        print(f"ion sidecar: invalid environment: {config_problem(error)}", file=sys.stderr)
        return 2
    from sidecar.server import CannotListen

    settings = IonSettings()
    providers = Providers.lazy(settings)

    ahead = opened_ahead(settings)

    def settled(_opened: asyncio.Future[None]) -> None:
        # The allocator keeps transfer buffers only from now on: what starting up and importing the
        # SDKs freed was given back as usual, so the idle sidecar stays small.
        keep_transfer_buffers()
        log.info("opened ahead: %s", ", ".join(ahead))

    def listening(_port: int) -> None:
        open_where_the_contract_runs(providers, ahead, config).add_done_callback(settled)

    try:
        finished = on_the_contract_thread(serve_until_signal(config, providers, host, on_listening=listening))
    except CannotListen as error:
        print(f"ion sidecar: {error.strerror}", file=sys.stderr)
        return 1
    finally:
        providers.close()
    # Stopped by a signal before /done: report it like a process killed by SIGTERM.
    return 0 if finished else 128 + signal.SIGTERM
