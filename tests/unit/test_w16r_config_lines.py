"""Review of f0d47cc (wave 16 R): one line per field must still name the field.

f0d47cc folds the errors pydantic gives a union's members (``server.workers.constrained-int``,
``server.workers.literal['auto']``) into one line by the last part of the location: any part
that starts with ``constrained-`` or ``literal[``. A tenant (or upstream) may be named so
(names match ``^[a-z0-9][a-z0-9_-]*$``): two tenants ``constrained-bob`` and
``constrained-carol`` that are not mappings were two lines naming each; they are now one line,
``tenants: ...``, naming neither, their messages joined with "or".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings

CONFIG = """\
server:
  secret: "ssssssssssssssssssssssssssssssss"
upstreams:
  main:
    endpoint: "http://127.0.0.1:8333"
tenants:
  constrained-bob: 5
  constrained-carol: "x"
  alice:
    keys: [{access_key: AKALICE000000000, secret_key: alice-secret-key-000000}]
    home: {upstream: main, bucket: data}
"""


def test_errors_of_two_tenants_named_constrained_name_each_tenant(tmp_path: Path) -> None:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as refused:
        load_settings(path, env={})
    lines = str(refused.value).splitlines()
    assert any(line.startswith("tenants.constrained-bob: ") for line in lines), lines
    assert any(line.startswith("tenants.constrained-carol: ") for line in lines), lines
