"""Client connection bounds within the open-file limit (s3proxy.open_files)."""

from __future__ import annotations

import resource

import pytest

from s3proxy.open_files import RESERVED_FILES, connection_bounds, raise_open_file_limit


def test_configured_bounds_stand_when_the_limit_leaves_room() -> None:
    assert connection_bounds(10_000, 1_000, 1 << 20) == (10_000, 1_000)


def test_bounds_are_cut_to_half_the_open_files_less_the_reserve(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usable = 1024 // 2 - RESERVED_FILES
    assert connection_bounds(10_000, 1_000, 1024) == (usable, usable)
    assert "LimitNOFILE" in caplog.text


def test_a_tiny_limit_still_admits_one_connection() -> None:
    assert connection_bounds(10_000, 1_000, 16) == (1, 1)


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard < 512:
        pytest.skip("needs a finite hard open-file limit above 512")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        assert raise_open_file_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
