"""Wave 16 G: the log lines' JSON comes from one C encoder built at import
(:func:`s3proxy.logs._to_json`), and is the text ``json.dumps`` with compact separators makes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from s3proxy import logs

ENTRIES: list[Any] = [
    {"time": "2026-12-05T12:00:00.000Z", "status": 200, "duration_ms": 0.1234, "tenant": None},
    {"key": 'é/日本/\x00\x1f"\\', "bytes_in": 10**20, "ok": True, "ratio": 1e-7, "x": -0.0},
    {"nested": {"a": [1, 2.5, "b"]}, "inf": float("inf"), "nan": float("nan")},
    {"surrogate": "\udcff", "empty": "", "list": []},
    "a string",
    [1, None],
]


@pytest.mark.parametrize("value", ENTRIES)
def test_a_line_is_what_dumps_writes(value: Any) -> None:
    assert logs._to_json(value) == json.dumps(value, separators=(",", ":"))


def test_the_encoder_is_built_once() -> None:
    assert logs._ENCODE is not None  # CPython's C encoder, taken at import


def test_what_json_cannot_write_is_refused_as_before() -> None:
    with pytest.raises(TypeError):
        logs._to_json({"x": object()})
