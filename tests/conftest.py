"""Session-wide fixtures: one real SeaweedFS upstream on free loopback ports for the whole run.

Started lazily (only when a test asks for it) and stopped by PID at the end, so unit-test-only
runs never pay for it and no `weed` process outlives pytest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.processes import SeaweedFS

SEAWEED_ACCESS_KEY = "seaweedadmin"
SEAWEED_SECRET_KEY = "seaweedadmin-secret-key"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A running `weed mini`; its log is next to the data dir (see SeaweedFS.start)."""
    root = tmp_path_factory.mktemp("seaweed")
    with SeaweedFS.start(root / "data", SEAWEED_ACCESS_KEY, SEAWEED_SECRET_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def upstream_s3(seaweed: SeaweedFS) -> Any:
    """A boto3 S3 client talking to SeaweedFS directly (path-style, us-east-1, SigV4)."""
    return seaweed.client()
