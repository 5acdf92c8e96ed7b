"""What the functions work with, opened lazily once per worker process and shared by its threads.

Opening on first use (not at import) keeps indexing fast and lets a store that is unreachable now be
reached on a later invocation: a failed open is not cached, the message is simply redelivered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from dispatcher_functions.app_settings import FunctionsSettings, load_app_manifest
from shared.dispatch import Dispatcher
from shared.executors.base import Executor
from shared.executors.registry import ExecutorRegistry
from shared.manifest import Manifest
from shared.providers import Providers
from shared.reconcile import Reconciler
from shared.settings import IonSettings
from shared.submit import ensure_subscriptions

log = logging.getLogger("ion.functions")


@dataclass
class AppContext:
    settings: IonSettings
    functions: FunctionsSettings
    manifest: Manifest
    providers: Providers
    executors: ExecutorRegistry
    dispatcher: Dispatcher
    reconciler: Reconciler

    @classmethod
    def open(
        cls,
        settings: IonSettings | None = None,
        manifest: Manifest | None = None,
        executors: dict[str, Executor] | None = None,
    ) -> AppContext:
        settings = settings or IonSettings()
        manifest = manifest or load_app_manifest(settings)
        providers = Providers.open(settings)
        try:
            if settings.messaging != "servicebus":
                # Embedded buses drop events for subscriptions that do not exist yet. On Service Bus the
                # topics and subscriptions belong to the infrastructure (bicep/terraform), and the app's
                # identity needs no rights to manage them.
                ensure_subscriptions(providers.bus, manifest, settings.max_delivery_count)
            registry = ExecutorRegistry(settings, providers.blob, executors)
            dispatcher = Dispatcher(manifest, providers.metadata, registry, settings)
            return cls(settings, FunctionsSettings(), manifest, providers, registry, dispatcher,
                       Reconciler(dispatcher))
        except BaseException:
            providers.close()
            raise

    def close(self) -> None:
        self.executors.close()
        self.providers.close()


_lock = threading.Lock()
_current: AppContext | None = None


def current() -> AppContext:
    """The worker's context, opened on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = AppContext.open()
            log.info(
                "Ion functions ready: messaging=%s metadata=%s blob=%s, %d module(s)",
                _current.settings.messaging, _current.settings.metadata, _current.settings.blob,
                len(_current.manifest),
            )
        return _current


def install(context: AppContext | None) -> None:
    """Use this context from now on (tests inject one with their own executors); closes the old one."""
    global _current
    with _lock:
        previous, _current = _current, context
    if previous is not None and previous is not context:
        previous.close()


def reset() -> None:
    """Close and forget the context; the next invocation opens a fresh one."""
    install(None)
