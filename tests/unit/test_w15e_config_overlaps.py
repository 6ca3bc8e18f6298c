"""Two upstream entries naming one store are one store to the overlap check (wave 15 E).

Two tenants' roots may not contain one another on one upstream bucket. The check compared
upstreams by their names in ``upstreams:``, so a second entry for the same S3 service (other
credentials or pool settings for one tenant, a default port written out, a host in capitals, or
any endpoint of AWS, where a bucket name is global) let two tenants share one prefix: each
could read and overwrite the other's objects. Such a configuration is now refused at start-up.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_config import base_config, error_of, load, mapping


@pytest.mark.parametrize(
    ("main", "other"),
    [
        ("http://127.0.0.1:8333", "http://127.0.0.1:8333"),
        ("http://LOCALHOST:8333", "http://localhost:8333/"),
        ("https://minio.example", "https://minio.example:443"),
        ("https://s3.us-east-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com"),
    ],
)
def test_one_store_under_two_names_overlaps(tmp_path: Path, main: str, other: str) -> None:
    data = base_config()
    data["upstreams"]["main"]["endpoint"] = main
    data["upstreams"]["other"] = {**data["upstreams"]["main"], "endpoint": other}
    data["tenants"]["alice"]["buckets"] = {"ant": mapping("main", "b", "x/")}
    data["tenants"]["bob"]["buckets"] = {"bee": mapping("other", "b", "x/")}
    message = error_of(tmp_path, data)
    assert message.startswith("tenants.bob.buckets.bee: upstream root other:b/x/ overlaps ")
    assert "tenants.alice.buckets.ant" in message


@pytest.mark.parametrize("other", ["http://127.0.0.1:8334", "https://127.0.0.1:8333"])
def test_other_stores_stay_apart(tmp_path: Path, other: str) -> None:
    data = base_config()
    data["upstreams"]["other"] = {**data["upstreams"]["main"], "endpoint": other}
    data["tenants"]["alice"]["buckets"] = {"ant": mapping("main", "b", "x/")}
    data["tenants"]["bob"]["buckets"] = {"bee": mapping("other", "b", "x/")}
    load(tmp_path, data)
