"""Long runs of the wave 14 I fuzz with the multipart rules weighted up (each has a second rule
that calls it, so uploads, parts, completes and aborts come about twice as often as bucket and
object requests). Not run in CI: ``W14I2_LONG=200`` (examples) runs it on the lanes chosen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.integration.conftest import Proxy
from tests.integration.test_w14i_seaweed import fuzz_proxy, run_over_http
from tests.support.w14i_fuzz import PART_BODIES, Fuzz
from tests.support.w14i_machine import OBJECT_ACLS, keys, names, parties

LONG = int(os.environ.get("W14I2_LONG", "0"))
pytestmark = pytest.mark.skipif(not LONG, reason="W14I2_LONG is not set")


class MultipartHeavy(Fuzz):
    """The multipart rules twice over."""

    @rule(party=parties, name=names, key=keys, acl=st.sampled_from(OBJECT_ACLS))
    def create_upload_again(self, party: str, name: str, key: str, acl: str | None) -> None:
        self.create_upload(party, name, key, acl)

    @rule(party=parties, index=st.integers(0, 20), number=st.integers(1, 3),
          which=st.integers(0, len(PART_BODIES) - 1))  # fmt: skip
    def upload_part_again(self, party: str, index: int, number: int, which: int) -> None:
        self.upload_part(party, index, number, which)

    @rule(party=parties, index=st.integers(0, 20), number=st.integers(1, 3), src_name=names,
          src_key=keys)  # fmt: skip
    def upload_part_copy_again(self, party: str, index: int, number: int, src_name: str,
                               src_key: str) -> None:  # fmt: skip
        self.upload_part_copy(party, index, number, src_name, src_key)

    @rule(party=parties, index=st.integers(0, 20), mask=st.integers(0, 7), bogus=st.booleans())
    def complete_upload_again(self, party: str, index: int, mask: int, bogus: bool) -> None:
        self.complete_upload(party, index, mask, bogus)

    @rule(party=parties, index=st.integers(0, 20))
    def abort_upload_again(self, party: str, index: int) -> None:
        self.abort_upload(party, index)


@pytest.fixture
def heavy_seaweed(
    seaweed: Any, upstream_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = fuzz_proxy(seaweed, upstream_s3, tmp_path_factory.mktemp("w14i2-heavy"))
    try:
        yield running
    finally:
        running.process.stop()


@pytest.fixture
def heavy_ceph(
    ceph_rgw: Any, ceph_s3: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    running = fuzz_proxy(ceph_rgw, ceph_s3, tmp_path_factory.mktemp("w14i2-heavy-ceph"))
    try:
        yield running
    finally:
        running.process.stop()


def test_multipart_heavy_runs_on_seaweedfs(heavy_seaweed: Proxy) -> None:
    run_over_http(heavy_seaweed.endpoint, MultipartHeavy, LONG, steps=40)


def test_multipart_heavy_runs_on_ceph_rgw(heavy_ceph: Proxy) -> None:
    run_over_http(heavy_ceph.endpoint, MultipartHeavy, LONG, steps=40)
