"""One pipeline, several executors: the dispatcher launches each module where its manifest entry says.

The Kubernetes and Batch executors run against fakes of their SDK clients (no cluster or Batch account
runs here); the metadata store is the real embedded one.
"""

from __future__ import annotations

from pathlib import Path

from shared.dispatch import Dispatcher
from shared.executors.azurebatch import AzureBatchExecutor, AzureBatchSettings
from shared.executors.kubernetes import KubernetesExecutor, KubernetesSettings
from shared.executors.registry import ExecutorRegistry
from shared.manifest import parse_manifest
from shared.metadata.sqlite import SqliteMetadata
from shared.models import Event
from shared.reconcile import Reconciler
from shared.settings import IonSettings
from tests.fakes.azurebatch import FakeBatchClient
from tests.fakes.kubernetes import fake_kubernetes

MANIFEST = {"modules": [
    {"name": "downloader", "subscribes_to": "new_link", "publishes": ["file_downloaded"],
     "executor": "kubernetes", "image": "reg.example/downloader:1"},
    {"name": "transcoder", "subscribes_to": "file_downloaded", "executor": "azurebatch",
     "image": "reg.example/transcoder:1", "resources": {"cpu": "4", "memory": "8Gi"}},
]}


def test_each_module_is_launched_on_its_own_executor(tmp_path: Path) -> None:
    settings = IonSettings(ION_HOME=str(tmp_path), ION_SIDECAR_IMAGE="reg.example/ion-sidecar:1")
    cluster, batch_api, core_api = fake_kubernetes()
    kubernetes = KubernetesExecutor(batch_api, core_api, KubernetesSettings(namespace="ion"), settings)
    batch_client = FakeBatchClient()
    batch = AzureBatchExecutor(
        batch_client, AzureBatchSettings(account_url="https://acct.westeurope.batch.azure.com"), settings
    )
    registry = ExecutorRegistry(settings, None, {"kubernetes": kubernetes, "azurebatch": batch})
    metadata = SqliteMetadata(tmp_path / "metadata.sqlite3")
    dispatcher = Dispatcher(parse_manifest(MANIFEST), metadata, registry, settings)

    link = Event.new("new_link", {"url": "https://example.org/v.mp4"})
    downloaded = Event.new("file_downloaded", correlation_id=link.correlation_id, parent_event_id=link.id)
    first = dispatcher.dispatch("downloader", link.model_dump_json().encode())
    second = dispatcher.dispatch("transcoder", downloaded.model_dump_json().encode())

    assert len(cluster.created_jobs) == 1 and cluster.created_jobs[0].startswith("ion-downloader-")
    assert len(batch_client.created_tasks) == 1
    assert [r.executor for r in metadata.jobs(link.correlation_id)] == ["kubernetes", "azurebatch"]
    # The reconciler asks each executor about its own jobs: both are launched and reported.
    Reconciler(dispatcher).reconcile_once()
    statuses = {r.job_id: r.status.value for r in metadata.jobs(link.correlation_id)}
    assert set(statuses) == {first.job_id, second.job_id}
    assert all(status in ("pending", "running") for status in statuses.values())
    metadata.close()
