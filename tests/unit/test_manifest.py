from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.errors import ManifestError
from shared.manifest import load_manifest

GOOD = """
modules:
  - name: downloader
    subscribes_to: new_link
    publishes: [file_downloaded]
    executor: kubernetes
    image: myregistry.azurecr.io/downloader:1.2
    command: ["python", "download.py"]
    env: {LOG_LEVEL: info, WORKERS: 4}
    retries: 2
    timeout: 10m
    resources: {cpu: "1", memory: 2Gi, gpu: 0}
    rules: pipeline.rules:route
  - name: transcoder
    subscribes_to: file_downloaded
    command: ["./transcode"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "modules.yaml"
    path.write_text(text)
    return path


def test_the_documented_manifest_loads(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, GOOD))
    downloader = manifest.get("downloader")
    assert downloader.timeout == timedelta(minutes=10)
    assert downloader.env == {"LOG_LEVEL": "info", "WORKERS": "4"}
    assert downloader.resources.memory_gib == 2
    assert manifest.get("transcoder").executor == "local"
    assert manifest.event_types() == ["new_link", "file_downloaded"]
    assert [m.name for m in manifest.subscribers("file_downloaded")] == ["transcoder"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("{name: a, subscribes_to: t, command: [x], timeout: soon}", "modules[0] (a): field 'timeout': invalid duration"),
        ("{name: a, subscribes_to: t, command: [x], retires: 2}", "modules[0] (a): field 'retires': unknown field"),
        ("{name: a, command: [x]}", "modules[0] (a): field 'subscribes_to': required field is missing"),
        ("{name: a, subscribes_to: t, executor: kubernetes}", "modules[0] (a): field '(entry)': executor 'kubernetes' needs an image"),
        ("{name: a, subscribes_to: t, executor: lambda, image: x}", "modules[0] (a): field 'executor'"),
        ("{name: Bad_Name, subscribes_to: t, command: [x]}", "modules[0] (Bad_Name): field 'name'"),
        ("{name: a, subscribes_to: 'bad type', command: [x]}", "field 'subscribes_to'"),
        ("{name: a, subscribes_to: t, command: [x], resources: {cpu: lots}}", "field 'resources.cpu'"),
        ("{name: a, subscribes_to: t, command: python main.py}", "field 'command': command must be a list"),
        ("{name: a, subscribes_to: t, command: [x], rules: not-a-callable}", "field 'rules'"),
    ],
)
def test_bad_entries_name_file_entry_and_field(tmp_path: Path, entry: str, expected: str) -> None:
    path = write(tmp_path, f"modules:\n  - {entry}\n")
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_duplicate_names_point_at_both_entries(tmp_path: Path) -> None:
    text = "modules:\n  - {name: a, subscribes_to: t, command: [x]}\n  - {name: a, subscribes_to: u, command: [y]}\n"
    with pytest.raises(ManifestError, match=r"modules\[1\] \(a\): field 'name': duplicate .*modules\[0\]"):
        load_manifest(write(tmp_path, text))


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest file not found"):
        load_manifest(tmp_path / "missing.yaml")
    with pytest.raises(ManifestError, match="not valid YAML at line 3"):
        load_manifest(write(tmp_path, "modules:\n  - {name: [\n"))
    with pytest.raises(ManifestError, match="'modules' must be a non-empty list"):
        load_manifest(write(tmp_path, "modules: []\n"))
