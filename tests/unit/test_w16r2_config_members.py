"""Config errors fold a union's members into one line only under a field that is a union
(wave 16, R2; s3proxy.config.loading).

Wave 16 E folded pydantic's one-error-per-member of ``server.workers`` (a number or ``auto``)
into one line, recognising the members by their names (``constrained-…``, ``literal[…]``); R
found a tenant (or upstream) so named folded too, into a line naming none of them. The members
are now found by walking the settings model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s3proxy.config import ConfigError, load_settings

CONFIG = """\
server:
  secret: "ssssssssssssssssssssssssssssssss"
  workers: {workers}
upstreams:
  main:
    endpoint: "http://127.0.0.1:8333"
tenants:
  constrained-one: 5
  literal-two: "x"
  alice:
    keys: [{{access_key: AKALICE000000000, secret_key: alice-secret-key-000000}}]
    home: {{upstream: main, bucket: data}}
"""


def refused(tmp_path: Path, workers: str) -> list[str]:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(CONFIG.format(workers=workers))
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    return str(error.value).splitlines()


def test_tenants_named_like_union_members_get_a_line_each_beside_workers_one(
    tmp_path: Path,
) -> None:
    lines = refused(tmp_path, "0")
    assert any(line.startswith("tenants.constrained-one: ") for line in lines), lines
    assert any(line.startswith("tenants.literal-two: ") for line in lines), lines
    assert sum(line.startswith("server.workers: ") for line in lines) == 1, lines


def test_a_union_fields_members_are_still_one_line(tmp_path: Path) -> None:
    lines = [line for line in refused(tmp_path, "0") if line.startswith("server.workers")]
    assert len(lines) == 1 and " or " in lines[0], lines
