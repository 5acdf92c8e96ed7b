"""The functions with the stores they use on Azure: blobs in Azurite, metadata in FerretDB (MongoDB API).

Service Bus has no emulator here, so the bus stays the embedded one; the executor is the test double.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import azure.functions as func
import pytest

from dispatcher_functions.settlement import rejection_blob_name
from shared.ids import job_id
from shared.models import JobStatus
from tests.emulators import Azurite, FerretDB
from tests.functions.conftest import LoadedApp, sb_message


@pytest.fixture
def app_env(app_env: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite, ferretdb: FerretDB) -> Path:
    """The embedded app environment, with blobs in Azurite and metadata in FerretDB."""
    monkeypatch.setenv("ION_BLOB", "azureblob")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("ION_BLOB_CONTAINER", f"fn{uuid.uuid4().hex[:12]}")
    monkeypatch.setenv("ION_METADATA", "mongodb")
    monkeypatch.setenv("MONGODB_URI", ferretdb.uri)
    monkeypatch.setenv("MONGODB_DATABASE", f"fn{uuid.uuid4().hex[:12]}")
    return app_env


def test_submit_dispatch_and_rejection_on_azure_stores(
    loaded: LoadedApp, azurite: Azurite, tmp_path: Path
) -> None:
    boundary = "b-9f2c"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="type"\r\n\r\nnew_link\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="in/page.html"\r\n\r\n'
        "<html>hello</html>\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    request = func.HttpRequest("POST", "http://localhost/api/events", body=body,
                               headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = loaded.call("submit", request)
    assert response.status_code == 202, response.get_body()
    answer = json.loads(response.get_body())

    providers = loaded.context.providers
    stored = providers.metadata.get_event_context(answer["event_id"])
    assert stored is not None and set(stored.files) == {"in/page.html"}
    assert stored.files["in/page.html"].startswith(azurite.blob_endpoint + "/")
    providers.blob.get(providers.blob.name_from_url(stored.files["in/page.html"]), tmp_path / "page.html")
    assert (tmp_path / "page.html").read_text() == "<html>hello</html>"

    (message,) = providers.bus.receive("link-splitter", 1, 30.0, 0.0)
    loaded.call("dispatch_link_splitter", sb_message(message.body, message.message_id))
    loaded.call("dispatch_link_splitter", sb_message(message.body, message.message_id, 2))
    providers.bus.complete(message)
    record = providers.metadata.get_job(job_id(answer["event_id"], "link-splitter"))
    assert record is not None and record.status == JobStatus.PENDING
    assert len(loaded.executor.launches) == 1

    loaded.call("dispatch_classifier", sb_message(b"not json", "poison-az"))
    name = rejection_blob_name("classifier", "poison-az")
    assert providers.blob.exists(name)
    providers.blob.get(name, tmp_path / "rejected.json")
    rejected = json.loads((tmp_path / "rejected.json").read_text())
    assert "not JSON" in rejected["reason"] and rejected["body"] == "not json"
