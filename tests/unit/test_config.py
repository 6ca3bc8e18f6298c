"""Settings: defaults, env overrides, secret references, cross-field errors, masking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from pydantic import SecretStr

from s3proxy.config import (
    ConfigError,
    Settings,
    effective_config_yaml,
    load_settings,
    quick_start_settings,
)
from s3proxy.layout import TenantLayout, UpstreamRoot

UPSTREAM_SECRET = "upstream-secret-Zq8"
ALICE_SECRET = "alice-secret-Xw3"
BOB_SECRET = "bob-secret-Vu5"


def base_config() -> dict[str, Any]:
    return {
        "upstreams": {
            "main": {
                "endpoint": "http://127.0.0.1:8333",
                "access_key": "upstream-ak",
                "secret_key": UPSTREAM_SECRET,
            }
        },
        "tenants": {
            "alice": {
                "keys": [{"access_key": "AKALICE", "secret_key": ALICE_SECRET}],
                "home": {"upstream": "main", "bucket": "data"},
            },
            "bob": {
                "keys": [{"access_key": "AKBOB", "secret_key": BOB_SECRET}],
                "home": {"upstream": "main", "bucket": "data"},
            },
        },
    }


def write(tmp_path: Path, data: dict[str, Any], name: str = "s3proxy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def load(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> Settings:
    return load_settings(write(tmp_path, data), env=env or {})


def error_of(tmp_path: Path, data: dict[str, Any], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, data, env)
    return str(caught.value)


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, base_config())
    server = settings.server
    assert (server.host, server.port, server.admin_host, server.admin_port) == (
        "127.0.0.1",
        9000,
        "127.0.0.1",
        9001,
    )
    assert server.region == "us-east-1" and server.strict_region is False
    assert server.virtual_host_domains == [] and server.secret is None
    assert server.max_skew_seconds == 900 and server.shutdown_timeout == 30.0
    assert server.tls_cert is None and server.tls_key is None
    upstream = settings.upstreams["main"]
    assert upstream.region == "us-east-1" and upstream.path_style and upstream.verify_tls
    assert upstream.max_connections == 128
    assert (upstream.connect_timeout, upstream.read_timeout) == (10.0, 300.0)
    assert settings.tenants["alice"].buckets == {}
    assert settings.tenants["alice"].home is not None
    assert settings.tenants["alice"].home.prefix is None
    assert settings.layout.shards == 16
    assert (settings.logging.level, settings.logging.access_log) == ("info", True)


def test_models_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path, base_config())
    with pytest.raises(ValueError):
        settings.server.port = 1


def test_env_overrides_nested_and_typed(tmp_path: Path) -> None:
    env = {
        "S3PROXY_SERVER__PORT": "9100",
        "S3PROXY_SERVER__STRICT_REGION": "true",
        "S3PROXY_SERVER__VIRTUAL_HOST_DOMAINS": "[s3.example.com]",
        "S3PROXY_LAYOUT__SHARDS": "256",
        "S3PROXY_UPSTREAMS__MAIN__SECRET_KEY": "0123",  # text fields are never YAML-parsed
        "S3PROXY_TENANTS__ALICE__HOME__BUCKET": "alice-data",
        "S3PROXY_TENANTS__ALICE__HOME__PREFIX": "",
        "S3PROXY_TENANTS__BOB__KEYS__0__SECRET_KEY": "*not-an-alias",
        "S3PROXY_ACCESS_KEY": "ignored: no double underscore",
    }
    settings = load(tmp_path, base_config(), env)
    assert settings.server.port == 9100
    assert settings.server.strict_region is True
    assert settings.server.virtual_host_domains == ["s3.example.com"]
    assert settings.layout.shards == 256
    assert settings.upstreams["main"].secret_key.get_secret_value() == "0123"
    assert settings.tenant_layouts()["alice"].home == UpstreamRoot("main", "alice-data", "")
    assert settings.secret_for("AKBOB") == ("bob", "*not-an-alias")


def test_env_override_creates_sections_and_cli_overrides_win(tmp_path: Path) -> None:
    env = {"S3PROXY_LOGGING__LEVEL": "debug", "S3PROXY_SERVER__PORT": "9100"}
    settings = load_settings(
        write(tmp_path, base_config()), env=env, overrides={"server": {"port": 9200}}
    )
    assert settings.logging.level == "debug"
    assert settings.server.port == 9200


def test_env_only_configuration(tmp_path: Path) -> None:
    env = {
        "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "https://s3.example.com",
        "S3PROXY_UPSTREAMS__MAIN__ACCESS_KEY": "ak",
        "S3PROXY_UPSTREAMS__MAIN__SECRET_KEY": "sk",
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
    }
    settings = load_settings(None, env=env)
    assert settings.upstreams["main"].endpoint == "https://s3.example.com"
    assert settings.secret_for("AKT1") == ("t1", "t1-secret-key")


def test_bad_env_override_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="S3PROXY_SERVER__PORT__X"):
        load(tmp_path, base_config(), {"S3PROXY_SERVER__PORT__X": "1"})
    message = error_of(tmp_path, base_config(), {"S3PROXY_SERVER__PORTT": "1"})
    assert "server.portt" in message


def test_secret_references(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "alice").write_text(ALICE_SECRET + "\n")
    data = base_config()
    data["server"] = {"secret": "env:SERVER_SECRET"}
    data["upstreams"]["main"]["secret_key"] = "env:UPSTREAM_SK"
    data["tenants"]["alice"]["keys"][0]["secret_key"] = "file:secrets/alice"
    data["tenants"]["bob"]["keys"][0]["secret_key"] = f"file:{tmp_path / 'secrets' / 'alice'}"
    env = {"SERVER_SECRET": "server-secret-value", "UPSTREAM_SK": UPSTREAM_SECRET}
    settings = load(tmp_path, data, env)
    assert settings.server.secret == SecretStr("server-secret-value")
    assert settings.upstreams["main"].secret_key.get_secret_value() == UPSTREAM_SECRET
    assert settings.secret_for("AKALICE") == ("alice", ALICE_SECRET)
    assert settings.secret_for("AKBOB") == ("bob", ALICE_SECRET)


def test_secret_reference_from_env_override(tmp_path: Path) -> None:
    env = {"S3PROXY_UPSTREAMS__MAIN__SECRET_KEY": "env:REAL_SK", "REAL_SK": "real-secret"}
    settings = load(tmp_path, base_config(), env)
    assert settings.upstreams["main"].secret_key.get_secret_value() == "real-secret"


def test_missing_env_secret_names_field_and_variable(tmp_path: Path) -> None:
    data = base_config()
    data["upstreams"]["main"]["access_key"] = "env:NOT_SET_ANYWHERE"
    data["server"] = {"secret": "env:ALSO_NOT_SET"}
    assert error_of(tmp_path, data).splitlines() == [
        "server.secret: environment variable 'ALSO_NOT_SET' is not set",
        "upstreams.main.access_key: environment variable 'NOT_SET_ANYWHERE' is not set",
    ]


def test_missing_secret_file_names_field(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["bob"]["keys"][0]["secret_key"] = "file:/nonexistent/bob"
    message = error_of(tmp_path, data)
    assert message.startswith("tenants.bob.keys[0].secret_key: ")
    assert "/nonexistent/bob" in message


def test_field_errors_name_the_path_and_never_the_secret(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["alice"]["keys"][0]["secret_key"] = "short"
    data["upstreams"]["main"]["endpoint"] = "ftp://user:hunter22@host/path"
    data["layout"] = {"shards": 10}
    data["logging"] = {"level": "loud"}
    data["server"] = {"port": "nope", "unknown_field": 1}
    message = error_of(tmp_path, data)
    lines = message.splitlines()
    assert any(line.startswith("tenants.alice.keys[0].secret_key: ") for line in lines)
    assert any(line.startswith("upstreams.main.endpoint: ") for line in lines)
    assert "layout.shards: must be 1, 16, 256 or 4096" in lines
    assert any(line.startswith("logging.level: ") for line in lines)
    assert any(line.startswith("server.port: ") for line in lines)
    assert any(line.startswith("server.unknown_field: ") for line in lines)
    assert "short" not in message and "hunter22" not in message


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://127.0.0.1:8333", True),
        ("https://s3.example.com/", True),
        ("https://s3.example.com/bucket", False),
        ("http://host?x=1", False),
        ("s3.example.com", False),
        ("http://host:notaport", False),
        ("http://user@host", False),
        ("http://[::1", False),
    ],
)
def test_endpoint_validation(tmp_path: Path, endpoint: str, ok: bool) -> None:
    data = base_config()
    data["upstreams"]["main"]["endpoint"] = endpoint
    if ok:
        assert not load(tmp_path, data).upstreams["main"].endpoint.endswith("/")
    else:
        assert error_of(tmp_path, data).startswith("upstreams.main.endpoint: ")


def test_invalid_names_and_prefixes(tmp_path: Path) -> None:
    data = base_config()
    data["upstreams"]["Main"] = data["upstreams"]["main"]
    data["tenants"]["alice"]["home"]["prefix"] = "no-slash"
    data["tenants"]["alice"]["home"]["bucket"] = "a/b"
    data["tenants"]["bob"]["buckets"] = {
        "Bad_Bucket": {"upstream": "main", "bucket": "b"},
        "ok-bucket": {"upstream": "main", "bucket": "b", "prefix": "p"},
    }
    lines = error_of(tmp_path, data).splitlines()
    assert any(line.startswith("upstreams.Main: invalid name") for line in lines)
    assert "tenants.alice.home.prefix: must end with '/'" in lines
    assert "tenants.alice.home.bucket: must be a bucket name" in lines
    assert any(line.startswith("tenants.bob.buckets.Bad_Bucket: invalid bucket") for line in lines)
    assert "tenants.bob.buckets.ok-bucket.prefix: must end with '/'" in lines


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["tenants"]["alice"]["home"].update(upstream="x"),
            "tenants.alice.home.upstream: unknown upstream 'x'",
        ),
        (
            lambda d: d["tenants"]["bob"].update(buckets={"bee": {"upstream": "y", "bucket": "b"}}),
            "tenants.bob.buckets.bee.upstream: unknown upstream 'y'",
        ),
        (
            lambda d: d["tenants"]["bob"]["keys"].append(
                {"access_key": "AKALICE", "secret_key": "another-secret"}
            ),
            "tenants.bob.keys[1].access_key: access key 'AKALICE' is already used at "
            "tenants.alice.keys[0].access_key",
        ),
        (lambda d: d.update(tenants={}), "tenants: at least one tenant is required"),
        (lambda d: d["tenants"]["bob"].update(keys=[]), "tenants.bob.keys: "),
        (
            lambda d: d.update(server={"tls_cert": "cert.pem"}),
            "server.tls_key: tls_cert and tls_key must be given together",
        ),
        (
            lambda d: d.update(server={"port": 9000, "admin_port": 9000}),
            "server.admin_port: the same as server.port (9000)",
        ),
    ],
)
def test_cross_field_errors_name_the_path(tmp_path: Path, change: Any, expected: str) -> None:
    data = base_config()
    change(data)
    assert any(line.startswith(expected) for line in error_of(tmp_path, data).splitlines())


def test_tls_files_must_exist_and_are_relative_to_the_config(tmp_path: Path) -> None:
    data = base_config()
    data["server"] = {"tls_cert": "tls/cert.pem", "tls_key": "tls/key.pem"}
    assert "server.tls_cert: no such file" in error_of(tmp_path, data)
    (tmp_path / "tls").mkdir()
    issued = trustme.CA().issue_cert("localhost")
    issued.cert_chain_pems[0].write_to_path(str(tmp_path / "tls" / "cert.pem"))
    issued.private_key_pem.write_to_path(str(tmp_path / "tls" / "key.pem"))
    settings = load(tmp_path, data)
    assert settings.server.tls_cert == tmp_path / "tls" / "cert.pem"


def mapping(upstream: str, bucket: str, prefix: str) -> dict[str, str]:
    return {"upstream": upstream, "bucket": bucket, "prefix": prefix}


@pytest.mark.parametrize(
    ("alice", "bob", "overlap"),
    [
        (mapping("main", "b", "x/"), mapping("main", "b", "x/"), True),
        (mapping("main", "b", "x/"), mapping("main", "b", "x/y/"), True),
        (mapping("main", "b", ""), mapping("main", "b", "anything/"), True),
        (mapping("main", "b", "x/"), mapping("main", "b", "xy/"), False),
        (mapping("main", "b", "x/"), mapping("main", "c", "x/"), False),
        (mapping("main", "b", "x/"), mapping("other", "b", "x/"), False),
    ],
)
def test_overlapping_mappings(
    tmp_path: Path, alice: dict[str, str], bob: dict[str, str], overlap: bool
) -> None:
    data = base_config()
    data["upstreams"]["other"] = {**data["upstreams"]["main"], "endpoint": "http://127.0.0.2:8333"}
    data["tenants"]["alice"]["buckets"] = {"ant": alice}
    data["tenants"]["bob"]["buckets"] = {"bee": bob}
    if overlap:
        message = error_of(tmp_path, data)
        assert message.startswith("tenants.bob.buckets.bee: upstream root ")
        assert "tenants.alice.buckets.ant" in message
    else:
        load(tmp_path, data)


def test_mapping_inside_another_tenants_home_is_rejected(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["bob"]["buckets"] = {"sneaky": mapping("main", "data", "alice/docs/")}
    message = error_of(tmp_path, data)
    assert message.startswith("tenants.bob.buckets.sneaky: ")
    assert "tenants.alice.home" in message


def test_home_with_empty_prefix_overlaps_other_homes(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["alice"]["home"]["prefix"] = ""
    assert error_of(tmp_path, data).startswith("tenants.bob.home: ")


def test_a_tenants_own_roots_may_nest(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["alice"]["buckets"] = {"docs": mapping("main", "data", "alice/docs/")}
    load(tmp_path, data)


@pytest.mark.parametrize("prefix", ["alice/", ""])
def test_a_mapped_bucket_may_not_hold_its_own_tenants_home(tmp_path: Path, prefix: str) -> None:
    """With one shard and plain keys, client key ``.usage/baseline`` of such a bucket would be
    the home's quota record (and ``.buckets/B`` a created bucket's)."""
    data = base_config()
    data["tenants"]["alice"]["buckets"] = {"all": mapping("main", "data", prefix)}
    error = error_of(tmp_path, data)
    assert error.startswith("tenants.alice.buckets.all: "), error
    assert "holds tenants.alice.home" in error


def test_tenant_layouts_resolve_default_prefix(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["bob"]["home"]["prefix"] = "custom/"
    data["tenants"]["bob"]["buckets"] = {"photos": mapping("main", "photos", "")}
    layouts = load(tmp_path, data).tenant_layouts()
    assert layouts["alice"] == TenantLayout("alice", UpstreamRoot("main", "data", "alice/"), {})
    assert layouts["bob"].home == UpstreamRoot("main", "data", "custom/")
    assert layouts["bob"].buckets == {"photos": UpstreamRoot("main", "photos", "")}


def test_secret_for(tmp_path: Path) -> None:
    data = base_config()
    data["tenants"]["alice"]["keys"].append({"access_key": "AKALICE2", "secret_key": "second-key"})
    settings = load(tmp_path, data)
    assert settings.secret_for("AKALICE") == ("alice", ALICE_SECRET)
    assert settings.secret_for("AKALICE2") == ("alice", "second-key")
    assert settings.secret_for("AKBOB") == ("bob", BOB_SECRET)
    assert settings.secret_for("nobody") is None


def test_secret_for_follows_model_copy(tmp_path: Path) -> None:
    settings = load(tmp_path, base_config())
    copy = settings.model_copy(update={"tenants": {"alice": settings.tenants["alice"]}})
    assert copy.secret_for("AKBOB") is None
    assert set(copy.tenant_layouts()) == {"alice"}


def test_effective_config_masks_every_secret(tmp_path: Path) -> None:
    data = base_config()
    data["server"] = {"secret": "server-secret-value"}
    text = effective_config_yaml(load(tmp_path, data))
    for secret in ("server-secret-value", UPSTREAM_SECRET, ALICE_SECRET, BOB_SECRET):
        assert secret not in text
    shown = yaml.safe_load(text)
    assert shown["server"]["secret"] == "********"
    assert shown["upstreams"]["main"]["secret_key"] == "********"
    assert shown["tenants"]["alice"]["keys"][0] == {
        "access_key": "AKALICE",
        "secret_key": "********",
        "allow": None,  # an unscoped key: everything its tenant owns
    }
    assert shown["tenants"]["alice"]["home"]["prefix"] == "alice/"
    assert shown["layout"] == {"shards": 16, "key_encoding": None}  # None: per upstream


def test_yaml_errors_do_not_quote_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text('upstreams:\n  main:\n    secret_key: "leaky-secret\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert "invalid YAML" in str(caught.value) and "leaky-secret" not in str(caught.value)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(path, env={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", env={})


QUICK_ENV = {
    "S3PROXY_UPSTREAM_ACCESS_KEY": "upstream-ak",
    "S3PROXY_UPSTREAM_SECRET_KEY": UPSTREAM_SECRET,
    "S3PROXY_ACCESS_KEY": "myaccesskey",
    "S3PROXY_SECRET_KEY": "mysecretkey123",
}


def test_quick_start_settings() -> None:
    settings = quick_start_settings("http://127.0.0.1:8333", "data", QUICK_ENV)
    upstream = settings.upstreams["default"]
    assert upstream.endpoint == "http://127.0.0.1:8333" and upstream.region == "us-east-1"
    assert upstream.access_key.get_secret_value() == "upstream-ak"
    assert settings.secret_for("myaccesskey") == ("default", "mysecretkey123")
    assert settings.tenant_layouts()["default"].home == UpstreamRoot("default", "data", "default/")
    assert settings.server.secret is None
    assert (settings.server.port, settings.layout.shards) == (9000, 16)


def test_quick_start_flags_region_secret_and_env_overrides() -> None:
    env = {
        **QUICK_ENV,
        "S3PROXY_UPSTREAM_REGION": "eu-west-1",
        "S3PROXY_SECRET": "quick-server-secret",
        "S3PROXY_LOGGING__LEVEL": "debug",
        "S3PROXY_SERVER__PORT": "9500",
    }
    settings = quick_start_settings(
        "http://127.0.0.1:8333", "data", env, host="0.0.0.0", admin_port=9101, shards=256
    )
    assert settings.upstreams["default"].region == "eu-west-1"
    assert settings.server.secret == SecretStr("quick-server-secret")
    assert settings.logging.level == "debug"
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9500)
    assert (settings.server.admin_port, settings.layout.shards) == (9101, 256)


def test_quick_start_missing_variable_is_named() -> None:
    env = {k: v for k, v in QUICK_ENV.items() if k != "S3PROXY_SECRET_KEY"}
    with pytest.raises(ConfigError, match="S3PROXY_SECRET_KEY: environment variable is not set"):
        quick_start_settings("http://127.0.0.1:8333", "data", env)
