"""Providers opened on first use: what lets a sidecar answer /healthz before any store is reached."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import ConfigurationError
from shared.providers import Providers
from shared.settings import IonSettings


def test_nothing_opens_until_first_use(tmp_path: Path) -> None:
    providers = Providers.lazy(IonSettings(ION_HOME=str(tmp_path)))
    assert list(tmp_path.iterdir()) == []
    providers.bus.ensure_subscription("t", "s")
    assert (tmp_path / "bus.sqlite3").exists()
    assert not (tmp_path / "metadata.sqlite3").exists()
    assert providers.bus is providers.bus  # opened once
    providers.close()
    assert not (tmp_path / "metadata.sqlite3").exists()  # close leaves unopened providers alone


def test_a_failed_open_is_tried_again_on_next_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "blobs").write_text("in the way")  # the blob folder cannot be created
    providers = Providers.lazy(IonSettings(ION_HOME=str(home)))
    with pytest.raises(OSError):
        _ = providers.blob
    (home / "blobs").unlink()
    assert providers.blob.exists("anything") is False
    providers.close()


def test_an_unconfigured_cloud_provider_fails_at_use_naming_the_setting(tmp_path: Path) -> None:
    providers = Providers.lazy(IonSettings(ION_HOME=str(tmp_path), ION_MESSAGING="servicebus"))
    with pytest.raises(ConfigurationError, match="SERVICEBUS"):
        _ = providers.bus
    providers.open_ahead("bus", "blob")  # the bus's failure is only logged
    assert (tmp_path / "blobs").is_dir()  # opened ahead of use
    with pytest.raises(ConfigurationError, match="SERVICEBUS"):
        _ = providers.bus  # and reported again at use
    providers.close()
