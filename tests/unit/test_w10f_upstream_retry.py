"""Which upstream failures the proxy asks again about (s3proxy.backends.upstream_retry)."""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_retry import COMPLETE_DELAYS, read_again


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_read_answered_500_is_asked_again(method: str) -> None:
    assert read_again(method, 500, has_body=False)


@pytest.mark.parametrize("status", [200, 206, 304, 404, 412, 501, 502, 503, 504])
def test_other_answers_to_a_read_stand(status: int) -> None:
    """A 503 is the upstream asking for less load, 502/504 are its proxies: the client's
    retries, with their backoff, answer those."""
    assert not read_again("GET", status, has_body=False)


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_writes_are_never_sent_twice_here(method: str) -> None:
    assert not read_again(method, 500, has_body=False)
    assert not read_again("GET", 500, has_body=True)


def test_a_lost_complete_is_asked_again_for_seconds_not_minutes() -> None:
    assert 2 < sum(COMPLETE_DELAYS) < 10
    assert list(COMPLETE_DELAYS) == sorted(COMPLETE_DELAYS)
