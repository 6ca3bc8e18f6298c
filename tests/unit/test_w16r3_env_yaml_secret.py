"""Review proof (wave 16 R3) for 328e07d: the YAML error line for an ``S3PROXY_…`` list or
mapping override promises "never quoting the value, which may hold a secret", but it prints
PyYAML's ``problem``, and PyYAML's problem for an undefined alias quotes it
(``found undefined alias 'X'``). An unquoted secret key beginning with ``*`` in
``S3PROXY_TENANTS__T1__KEYS`` therefore goes whole into the start-up error, i.e. the pod's log
and events. Before 328e07d the line was pydantic's "Input should be a valid list" (the value
never printed). Fails on 328e07d..HEAD.

Proposed fix: print only the position and a problem from a fixed list (or PyYAML's problem
with every quoted token removed: ``re.sub(r"'[^']*'", "…", problem)``), never a token of the
value; or say "not valid YAML (column N)" alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings

SECRET = "Sup3rS3cretValue42"


def _env(tmp_path: Path, keys: str) -> dict[str, str]:
    return {
        "S3PROXY_UPSTREAMS__MAIN__TYPE": "local",
        "S3PROXY_UPSTREAMS__MAIN__PATH": str(tmp_path / "data"),
        "S3PROXY_TENANTS__T1__KEYS": keys,
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
    }


def test_a_keys_override_that_is_not_yaml_never_prints_the_secret(tmp_path: Path) -> None:
    keys = f"[{{access_key: AKT1, secret_key: *{SECRET}}}]"  # a secret beginning with "*"
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=_env(tmp_path, keys))
    message = str(caught.value)
    assert message.startswith("S3PROXY_TENANTS__T1__KEYS: "), message
    assert SECRET not in message, message
