"""The configuration file cannot mean two things or exhaust the box (wave 13, B2).

Before: PyYAML kept the last of a key written twice (a second ``alice:`` tenant replaced the
first, a second ``port:`` won) without a word; nine anchors of nine aliases each hung
``check-config`` and ``serve`` for minutes; an alias containing itself ended in a
RecursionError traceback; a 200 MB file was read and parsed whole (1.4 GB of memory).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings
from s3proxy.config.yaml_file import MAX_CONFIG_BYTES

TENANT = """\
  {name}:
    keys:
      - access_key: {key}
        secret_key: secret-value-{key}
    home: {{upstream: main, bucket: data}}
"""
UPSTREAM = "upstreams:\n  main:\n    endpoint: http://127.0.0.1:8333\n"


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(text)
    load_settings(path, env={})


def test_a_key_written_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    tenants = "tenants:\n" + TENANT.format(name="alice", key="AKONE")
    tenants += TENANT.format(name="alice", key="AKTWO")
    with pytest.raises(ConfigError, match=r"line 10, column 3: duplicate key 'alice'"):
        _load(tmp_path, UPSTREAM + tenants)
    with pytest.raises(ConfigError, match=r"line 3, column 3: duplicate key 'port'"):
        _load(tmp_path, "server:\n  port: 9100\n  port: 9200\n")


def test_merge_keys_and_aliases_still_load(tmp_path: Path) -> None:
    valid = UPSTREAM + "tenants:\n" + TENANT.format(name="alice", key="AKONE")
    anchored = "server:\n  port: &p 9100\n  limits: {max_concurrent_requests: *p}\n"
    _load(tmp_path, valid + anchored)
    merged = "server:\n  limits:\n    <<: {max_wait: 2.0}\n    max_wait: 3.0\n"
    path = tmp_path / "s3proxy.yaml"
    path.write_text(valid + merged)
    assert load_settings(path, env={}).server.limits.max_wait == 3.0  # overriding a merge is fine
    with pytest.raises(ConfigError, match="duplicate key 'max_wait'"):
        _load(tmp_path, valid + "server:\n  limits: {max_wait: 1, max_wait: 2}\n")


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ["a: &a [" + ", ".join(['"lol"'] * 9) + "]"]
    for i in range(1, 9):
        this, previous = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{this}: &{this} [" + ", ".join([f"*{previous}"] * 9) + "]")
    lines.append("server: {secret: *i}")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="aliases expand the document past 1,000,000 nodes"):
        _load(tmp_path, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5


def test_an_alias_inside_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 1, column 4: an alias refers to a node"):
        _load(tmp_path, "a: &a [1, *a]\nserver: {port: 9100}\n")


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "s3proxy.yaml"
    with path.open("w") as stream:
        stream.write("server: {port: 9100}\n")
        stream.write(("#" + "x" * 1023 + "\n") * (MAX_CONFIG_BYTES // 1024 + 1))
    with pytest.raises(ConfigError, match="larger than 8 MiB"):
        load_settings(path, env={})


@pytest.mark.parametrize(
    ("field", "where"),
    [
        ("shutdown_timeout: .inf", "server.shutdown_timeout"),
        ("limits: {max_wait: .inf}", "server.limits.max_wait"),
        ("keep_alive_timeout: .inf", "server.keep_alive_timeout"),
    ],
)
def test_an_infinite_number_is_refused(tmp_path: Path, field: str, where: str) -> None:
    valid = UPSTREAM + "tenants:\n" + TENANT.format(name="alice", key="AKONE")
    with pytest.raises(ConfigError, match=rf"^{where}: Input should be a finite number$"):
        _load(tmp_path, valid + f"server:\n  {field}\n")


def test_an_override_with_one_underscore_is_refused_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(UPSTREAM + "tenants:\n" + TENANT.format(name="alice", key="AKONE"))
    expected = r"^S3PROXY_SERVER_PORT: not applied: .* \(did you mean S3PROXY_SERVER__PORT\?\)$"
    with pytest.raises(ConfigError, match=expected):
        load_settings(path, env={"S3PROXY_SERVER_PORT": "9100"})
    with pytest.raises(ConfigError, match="did you mean S3PROXY_LOGGING__LEVEL"):
        load_settings(path, env={"S3PROXY_LOGGING_LEVEL": "debug"})
    # The quick start's and the image's own variables are no settings and stay untouched.
    env = {"S3PROXY_SECRET_KEY": "x", "S3PROXY_UPSTREAM_REGION": "y", "S3PROXY_CONFIG": "z"}
    assert load_settings(path, env={**env, "S3PROXY_SERVER__PORT": "9100"}).server.port == 9100


def test_an_override_written_as_yaml_follows_the_same_rules(tmp_path: Path) -> None:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(UPSTREAM + "tenants:\n" + TENANT.format(name="alice", key="AKONE"))
    env = {"S3PROXY_SERVER__LIMITS": "{max_wait: 1, max_wait: 2}"}
    with pytest.raises(
        ConfigError, match=r"^S3PROXY_SERVER__LIMITS: invalid YAML at column 15: a duplicate key$"
    ):
        load_settings(path, env=env)
    env = {"S3PROXY_SERVER__LIMITS": "{max_wait: 2, max_concurrent_requests: 3}"}
    assert load_settings(path, env=env).server.limits.max_wait == 2
