"""A 10,000-part CompleteMultipartUpload body is parsed, and the upstream's built, in event-loop
steps (other tenants' requests on the worker run between them), with exactly the answers and
bytes of the one-go functions."""

from __future__ import annotations

import asyncio
import base64
import zlib
from collections.abc import Awaitable, Callable

import pytest

from s3proxy.complete_parse import (
    PARTS_PER_STEP,
    SLICE_BYTES,
    complete_request_xml_stepped,
    parse_complete_request_stepped,
)
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import CompletedPart
from s3proxy.multipart_xml import complete_request_xml, parse_complete_request

CRC = base64.b64encode(zlib.crc32(b"x").to_bytes(4, "big")).decode()
PARTS = [CompletedPart(n, f'"{n:032x}"', {"CRC32": CRC}) for n in range(1, 10001)]
BODY = complete_request_xml(PARTS)


def turns_while(parse: Callable[[], Awaitable[object]]) -> tuple[int, object]:
    """How many times another task got the loop while ``parse`` ran, and what it answered."""

    async def run() -> tuple[int, object]:
        turns = 0
        done = False

        async def other_tenant() -> None:
            nonlocal turns
            while not done:
                await asyncio.sleep(0)
                turns += 1

        task = asyncio.create_task(other_tenant())
        await asyncio.sleep(0)  # the other task is running before the parse starts
        start = turns
        try:
            answer: object = await parse()
        except S3Error as error:
            answer = error
        during = turns - start
        done = True
        await task
        return during, answer

    return asyncio.run(run())


def test_a_big_body_lets_other_requests_run_while_it_is_parsed() -> None:
    turns, parts = turns_while(lambda: parse_complete_request_stepped(BODY))
    assert parts == PARTS
    # ~1.3 MB in 16 KiB slices plus 10,000 parts in batches: the loop is free between them.
    assert turns >= len(BODY) // SLICE_BYTES


def test_a_small_body_is_parsed_in_one_step() -> None:
    """An ordinary Complete pays nothing for the steps."""
    body = complete_request_xml(PARTS[:3])
    turns, parts = turns_while(lambda: parse_complete_request_stepped(body))
    assert parts == PARTS[:3]
    assert turns == 0


def test_the_upstream_body_for_many_parts_is_built_in_steps() -> None:
    parts = [CompletedPart(n, f'"<&{n}"', {} if n % 3 else {"CRC32": CRC}) for n in range(1, 10001)]
    turns, body = turns_while(lambda: complete_request_xml_stepped(parts))
    assert body == complete_request_xml(parts)
    assert turns >= len(parts) // PARTS_PER_STEP


@pytest.mark.parametrize("count", [1, PARTS_PER_STEP, PARTS_PER_STEP + 1])
def test_the_upstream_body_for_few_parts_is_the_same(count: int) -> None:
    parts = PARTS[:count]
    assert asyncio.run(complete_request_xml_stepped(parts)) == complete_request_xml(parts)


def test_a_character_split_between_slices_is_read_whole() -> None:
    etag = '"' + "é" * (SLICE_BYTES // 2 + 1) + '"'  # two-byte characters across a boundary
    body = complete_request_xml([CompletedPart(1, etag, {}), *PARTS[1:100]])
    parts = asyncio.run(parse_complete_request_stepped(body))
    assert parts == parse_complete_request(body)
    assert parts[0].etag == etag


def _big(head: bytes = b"", tail: bytes = b"", root: bytes = b"CompleteMultipartUpload") -> bytes:
    """9,999 good parts then ``tail``: the bad part comes last, after many slices."""
    first = complete_request_xml(PARTS[:-1])
    middle = first[first.index(b"<Part>") : first.rindex(b"</CompleteMultipartUpload>")]
    return head + b"<" + root + b">" + middle + tail + b"</" + root + b">"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (BODY[: len(BODY) // 2], S3ErrorCode.MalformedXML),
        (_big(root=b"Other"), S3ErrorCode.MalformedXML),
        (_big(tail=b"<Part><PartNumber>10000</PartNumber><ETag>e</ETag></Part>" * 2),
         S3ErrorCode.MalformedXML),
        (_big(tail=b"<Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"),
         S3ErrorCode.MalformedXML),
        (_big(tail=b"<Part><PartNumber>1</PartNumber></Part>"), S3ErrorCode.MalformedXML),
        (_big(head=b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'), S3ErrorCode.MalformedXML),
        (_big(tail=b"<Part><PartNumber>1</PartNumber><ETag>e</ETag>"
                   b"<ChecksumCRC32>AAAA</ChecksumCRC32></Part>"), S3ErrorCode.InvalidArgument),
        (BODY + b"<trailing/>", S3ErrorCode.MalformedXML),
    ],
    ids=[
        "truncated", "wrong-root", "10001-parts", "bad-number", "no-etag", "dtd",
        "checksum-of-wrong-size", "second-root",
    ],
)  # fmt: skip
def test_a_big_bad_body_gets_the_one_go_answer(body: bytes, code: S3ErrorCode) -> None:
    assert len(body) > SLICE_BYTES
    with pytest.raises(S3Error) as one_go:
        parse_complete_request(body)
    with pytest.raises(S3Error) as stepped:
        asyncio.run(parse_complete_request_stepped(body))
    assert one_go.value.code is code
    assert stepped.value.code is code
    assert stepped.value.message == one_go.value.message
