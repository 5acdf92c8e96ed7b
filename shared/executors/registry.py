"""Executors by name, created on first use (so cloud SDKs load only when a module needs them)."""

from __future__ import annotations

import threading

from shared.blob.base import BlobStore
from shared.executors.base import Executor
from shared.settings import IonSettings


def open_executor(name: str, settings: IonSettings, blob: BlobStore | None = None) -> Executor:
    if name == "local":
        from shared.executors.local import LocalExecutor

        return LocalExecutor(settings, blob)
    if name == "kubernetes":
        from shared.executors.kubernetes import KubernetesExecutor

        return KubernetesExecutor.from_settings(settings)
    if name == "azurebatch":
        from shared.executors.azurebatch import AzureBatchExecutor

        return AzureBatchExecutor.from_settings(settings)
    if name == "aci":
        from shared.executors.aci import AciExecutor

        return AciExecutor.from_settings(settings)
    raise ValueError(f"unknown executor {name!r} (kubernetes, azurebatch, aci or local)")


class ExecutorRegistry:
    """One executor instance per name for the life of a dispatcher or reconciler."""

    def __init__(self, settings: IonSettings, blob: BlobStore | None = None,
                 executors: dict[str, Executor] | None = None) -> None:
        self._settings = settings
        self._blob = blob
        self._executors: dict[str, Executor] = dict(executors or {})
        self._lock = threading.Lock()

    def get(self, name: str) -> Executor:
        with self._lock:
            if name not in self._executors:
                self._executors[name] = open_executor(name, self._settings, self._blob)
            return self._executors[name]

    def close(self) -> None:
        with self._lock:
            for executor in self._executors.values():
                executor.close()
            self._executors.clear()
