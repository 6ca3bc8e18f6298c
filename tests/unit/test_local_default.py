"""The zero-config start: generated keys and server secret kept in the data directory, and the
``type: local`` upstream in configuration files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from s3proxy.config import ConfigError, LocalStoreConfig, load_settings
from s3proxy.config.local_default import (
    CREDENTIALS_FILE,
    SECRET_FILE,
    local_default_settings,
    with_persistent_secret,
)


def test_first_start_generates_keys_and_shows_the_secret_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = local_default_settings(data, env={}, port=9100)
    pair = first.settings.tenants["default"].keys[0]
    access_key, secret_key = pair.access_key, pair.secret_key.get_secret_value()
    assert first.settings.secret_for(access_key) == ("default", secret_key)
    assert len(access_key) == 20 and len(secret_key) >= 40
    assert any(secret_key in line for line in first.banner)
    mode = stat.S_IMODE((data / CREDENTIALS_FILE).stat().st_mode)
    assert mode == 0o600

    again = local_default_settings(data, env={})
    pair = again.settings.tenants["default"].keys[0]
    assert (pair.access_key, pair.secret_key.get_secret_value()) == (access_key, secret_key)
    assert not any(secret_key in line for line in again.banner)
    assert any(access_key in line for line in again.banner)


def test_keys_from_the_environment_win(tmp_path: Path) -> None:
    env = {"S3PROXY_ACCESS_KEY": "myaccesskey", "S3PROXY_SECRET_KEY": "mysecretkey123"}
    local = local_default_settings(tmp_path, env=env)
    assert local.settings.secret_for("myaccesskey") == ("default", "mysecretkey123")
    assert not (tmp_path / CREDENTIALS_FILE).exists()
    assert not any("mysecretkey123" in line for line in local.banner)


def test_the_default_store_and_listen_address(tmp_path: Path) -> None:
    settings = local_default_settings(tmp_path / "d", env={}).settings
    store = settings.upstreams["local"]
    assert isinstance(store, LocalStoreConfig) and store.path == tmp_path / "d"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 9000)
    home = settings.tenant_layouts()["default"].home
    assert home is not None and home.upstream == "local"


def test_a_corrupt_credentials_file_is_named(tmp_path: Path) -> None:
    (tmp_path / CREDENTIALS_FILE).write_text("not json")
    with pytest.raises(ConfigError, match=CREDENTIALS_FILE):
        local_default_settings(tmp_path, env={})


def test_server_secret_persists_in_the_store(tmp_path: Path) -> None:
    settings = local_default_settings(tmp_path, env={}).settings
    assert settings.server.secret is None
    first = with_persistent_secret(settings).server.secret
    second = with_persistent_secret(settings).server.secret
    assert first is not None and second is not None
    assert first.get_secret_value() == second.get_secret_value()
    assert len(first.get_secret_value()) == 64
    assert stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode) == 0o600


def test_a_configured_secret_is_kept(tmp_path: Path) -> None:
    env = {"S3PROXY_SECRET": "configured-secret-value"}
    settings = with_persistent_secret(local_default_settings(tmp_path, env=env).settings)
    assert settings.server.secret is not None
    assert settings.server.secret.get_secret_value() == "configured-secret-value"
    assert not (tmp_path / SECRET_FILE).exists()


CONFIG = """\
upstreams:
  box: {type: local, path: store}
tenants:
  alice:
    keys: [{access_key: AKALICE, secret_key: alice-secret}]
    home: {upstream: box, bucket: objects}
"""


def test_local_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "s3proxy.yaml"
    config.parent.mkdir()
    config.write_text(CONFIG)
    store = load_settings(config, env={}).upstreams["box"]
    assert isinstance(store, LocalStoreConfig) and store.path == tmp_path / "conf" / "store"
    moved = load_settings(config, env={"S3PROXY_UPSTREAMS__BOX__PATH": "/srv/s3"})
    assert moved.upstreams["box"] == LocalStoreConfig(type="local", path=Path("/srv/s3"))


def test_an_unknown_upstream_type_names_both_types(tmp_path: Path) -> None:
    config = tmp_path / "s3proxy.yaml"
    config.write_text(CONFIG.replace("type: local", "type: locall"))
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert "upstreams.box.type: must be 's3' (an S3 server) or 'local'" in str(caught.value)
