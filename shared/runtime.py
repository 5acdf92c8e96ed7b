"""The local runtime behind `ion up`: the same dispatch and reconcile code, driven by threads.

One receiver thread per module subscription dispatches messages as they arrive; one reconciler
thread wakes when a local job finishes (or every ION_RECONCILE_SECONDS) to move job records on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from shared.dispatch import Dispatcher
from shared.errors import PoisonMessage
from shared.executors.local import LocalExecutor
from shared.executors.registry import ExecutorRegistry
from shared.manifest import Manifest
from shared.messaging.base import LockLost, ReceivedMessage
from shared.models import ModuleSpec
from shared.providers import Providers
from shared.reconcile import Reconciler
from shared.settings import IonSettings

log = logging.getLogger("ion.runtime")

RECEIVE_WAIT = 1.0


@dataclass
class RuntimeCounters:
    dispatched: int = 0
    dead_lettered: int = 0
    abandoned: int = 0


class LocalRuntime:
    def __init__(self, settings: IonSettings, manifest: Manifest, providers: Providers | None = None) -> None:
        self.settings = settings
        self.manifest = manifest
        self.providers = providers or Providers.open(settings)
        self._wake = threading.Event()
        self._stop = threading.Event()
        workdir = manifest.path.resolve().parent if manifest.path else None
        self.local = LocalExecutor(settings, providers=self.providers, workdir=workdir,
                                   on_finished=self._wake.set)
        self.executors = ExecutorRegistry(settings, self.providers.blob, {"local": self.local})
        self.dispatcher = Dispatcher(manifest, self.providers.metadata, self.executors, settings)
        self.reconciler = Reconciler(self.dispatcher)
        self.counters = RuntimeCounters()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for module in self.manifest:
            self.providers.bus.ensure_subscription(
                module.subscribes_to, module.name, self.settings.max_delivery_count
            )
        for module in self.manifest:
            self._spawn(f"ion-dispatch-{module.name}", self._receive_loop, module)
        self._spawn("ion-reconcile", self._reconcile_loop)

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.local.close()
        self.executors.close()
        self.providers.close()

    def request_stop(self) -> None:
        """Ask the runtime to stop (safe from a signal handler); `stop()` then shuts it down."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stop.wait(timeout)

    # -- loops --------------------------------------------------------------------------------
    def _receive_loop(self, module: ModuleSpec) -> None:
        bus = self.providers.bus
        batch = max(1, min(module.concurrency * 2, 64))
        while not self._stop.is_set():
            try:
                messages = bus.receive(module.name, batch, self.settings.lock_seconds, RECEIVE_WAIT)
            except Exception as exc:
                log.warning("receiving for %s failed: %s", module.name, exc)
                self._stop.wait(1.0)
                continue
            if messages:
                self.handle(module, messages)

    def handle(self, module: ModuleSpec, messages: list[ReceivedMessage]) -> None:
        """Dispatch a batch and settle each message: complete, dead-letter (poison) or abandon (transient)."""
        bus = self.providers.bus
        try:
            results = self.dispatcher.dispatch_many(module.name, [m.body for m in messages])
        except Exception as exc:  # nothing was decided: every message comes back
            results = [exc] * len(messages)
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, PoisonMessage):
                reason = str(result)
                log.warning("dead-lettering message %s on %s: %s", message.message_id, module.name, reason)
                self._settle(partial(bus.dead_letter, message, reason))
                self.counters.dead_lettered += 1
            elif isinstance(result, Exception):
                log.warning("dispatching %s on %s failed, will retry: %s", message.message_id, module.name,
                            result)
                self._settle(partial(bus.abandon, message))
                self.counters.abandoned += 1
            else:
                self._settle(partial(bus.complete, message))
                self.counters.dispatched += 1

    @staticmethod
    def _settle(action: Callable[[], None]) -> None:
        try:
            action()
        except LockLost:
            # Another receiver has it now; dispatch is idempotent, so its attempt launches nothing twice.
            log.info("lock lost while settling a message")

    def _reconcile_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.reconciler.reconcile_once()
            except Exception as exc:
                log.warning("reconcile pass failed: %s", exc)
            self._wake.wait(self.settings.reconcile_seconds)
