"""The pure halves of tests/integration/test_w13g_upstream_faults.py (wave 13 G): a
DeleteResult is read against the keys asked, an object's HEAD or GET answer must be 200 or 206
with a length before the gateway reads it as one, and a conditional write is never sent again
on its own (the pool's retry after a stale connection)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from s3proxy.backends.upstream_results import object_answer
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import DeleteResult
from s3proxy.upstream_xml import parse_delete_result
from tests.unit.test_upstream_http import closes_on_second_request, get, run, serving

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _result(*entries: str) -> bytes:
    return f"<DeleteResult {NS}>{''.join(entries)}</DeleteResult>".encode()


def test_keys_the_delete_result_leaves_out_are_internal_errors() -> None:
    body = _result(
        "<Deleted><Key>a</Key></Deleted>",
        "<Error><Key>b</Key><Code>AccessDenied</Code><Message>m</Message></Error>",
    )
    assert parse_delete_result(body, asked=["a", "b", "c", "c", "d"]) == [
        DeleteResult("a"),
        DeleteResult("b", "AccessDenied"),
        DeleteResult("c", "InternalError"),
        DeleteResult("d", "InternalError"),
    ]


def test_an_empty_delete_result_deletes_nothing_asked() -> None:
    assert parse_delete_result(_result(), asked=["x"]) == [DeleteResult("x", "InternalError")]


def test_a_complete_delete_result_reads_as_before() -> None:
    body = _result("<Deleted><Key>x</Key></Deleted>", "<Deleted><Key>y</Key></Deleted>")
    assert parse_delete_result(body, asked=["y", "x"]) == [DeleteResult("x"), DeleteResult("y")]


@dataclass
class _Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "HEAD"


WHOLE = {"Content-Length": "6", "ETag": '"e"', "Last-Modified": "Sun, 29 Nov 2026 00:00:00 GMT"}


@pytest.mark.parametrize("status", [200, 206])
def test_an_object_answer_gives_its_length(status: int) -> None:
    assert object_answer(_Answer(status, WHOLE)) == 6  # type: ignore[arg-type]


BROKEN = {
    "no-length": (200, {k: v for k, v in WHOLE.items() if k != "Content-Length"}),
    "bad-length": (200, {**WHOLE, "Content-Length": "6x"}),
    "negative-length": (200, {**WHOLE, "Content-Length": "-1"}),
    "204": (204, WHOLE),
    "203": (203, WHOLE),
}


@pytest.mark.parametrize("case", BROKEN)
def test_an_object_answer_without_what_s3_sends_is_unreadable(case: str) -> None:
    status, headers = BROKEN[case]
    with pytest.raises(S3Error) as raised:
        object_answer(_Answer(status, headers))  # type: ignore[arg-type]
    assert raised.value.code is S3ErrorCode.InternalError


@pytest.mark.parametrize(
    ("method", "condition", "sent_again"),
    [
        ("PUT", {}, True),
        ("PUT", {"if-none-match": "*"}, False),
        ("PUT", {"if-match": '"e"'}, False),
        ("DELETE", {"if-match": '"e"'}, False),
        ("GET", {"if-none-match": '"e"'}, True),
    ],
)
def test_a_conditional_write_is_never_sent_again_after_a_stale_connection(
    method: str, condition: dict[str, str], sent_again: bool
) -> None:
    """A reused connection that fails before any answer byte: the request may have been
    carried out. A plain PUT (or a conditional read) is sent again on a new connection; a
    conditional write is not (its second attempt would fail its own condition)."""

    async def go() -> None:
        async with serving(closes_on_second_request(1)) as (server, pool):
            first = await get(pool, server.port)
            await first.read()
            first.release()
            headers = {"host": "h", **condition}
            body = b"data" if method == "PUT" else None
            request = pool.request(method, "127.0.0.1", server.port, "/b/k", headers, body)
            if sent_again:
                response = await request
                assert response.status == 200
                response.release()
            else:
                with pytest.raises(ConnectionError):
                    await request
            assert server.connections == (2 if sent_again else 1)

    run(go())
