"""Upstream answers that must not reach a client as they are (wave 11 E): a listing page that
does not say whether it is the last, a conditional Complete's 412 for its own success, and an
InternalError inside a Complete's 200 (asked again, as a 500 is)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp import web

from s3proxy.backends import s3_multipart
from s3proxy.backends.upload_gone import after_failed_complete
from s3proxy.completion import multipart_etag
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import WriteConditions
from s3proxy.upstream_xml import parse_list_parts, parse_list_uploads, parse_list_v2
from tests.unit.test_s3_multipart import MD5_A, Handler, run_complete
from tests.unit.test_upload_gone import PART, REQUEST, Upstream

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
PAGES = {
    "v2": (
        parse_list_v2,
        f'<ListBucketResult xmlns="{NS}"><Name>b</Name>{{t}}<Contents><Key>k</Key>'
        '<ETag>"e"</ETag><Size>1</Size></Contents></ListBucketResult>',
    ),
    "parts": (
        parse_list_parts,
        "<ListPartsResult>{t}<Part><PartNumber>1</PartNumber><ETag>e</ETag><Size>1</Size>"
        "</Part></ListPartsResult>",
    ),
    "uploads": (
        parse_list_uploads,
        "<ListMultipartUploadsResult>{t}<Upload><Key>k</Key><UploadId>u</UploadId></Upload>"
        "</ListMultipartUploadsResult>",
    ),
}


def parse(page: str, truncated: str) -> bool:
    """Whether the parsed page says more follows."""
    parser, template = PAGES[page]
    body = template.format(t=truncated).encode()
    if parser is parse_list_v2:
        return parse_list_v2(body, False).next_token is not None
    if parser is parse_list_parts:
        return parse_list_parts(body).next_marker is not None
    return parse_list_uploads(body).next_marker is not None


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize(
    "truncated",
    ["", "<IsTruncated/>", "<IsTruncated>yes</IsTruncated>"],
    ids=["none", "empty", "yes"],
)
def test_a_page_that_does_not_say_whether_it_is_the_last_is_unreadable(
    page: str, truncated: str
) -> None:
    """Taken for the last page, it would end a listing early with a 200."""
    with pytest.raises(S3Error) as raised:
        parse(page, truncated)
    assert raised.value.code is S3ErrorCode.InternalError
    assert "could not be read" in raised.value.message


@pytest.mark.parametrize("page", PAGES)
def test_is_truncated_is_read_as_s3_writes_it(page: str) -> None:
    assert parse(page, "<IsTruncated>true</IsTruncated>")
    assert parse(page, "<IsTruncated> TRUE </IsTruncated>")
    assert not parse(page, "<IsTruncated>false</IsTruncated>")


CONDITIONAL = dataclasses.replace(REQUEST, conditions=WriteConditions(if_none_match="*"))


def answer(upstream: Upstream, request: object, code: S3ErrorCode) -> str:
    try:
        done = asyncio.run(after_failed_complete(upstream, request, S3Error(code)))  # type: ignore[arg-type]
    except S3Error as error:
        return error.code.name
    return done.etag


def test_a_conditional_complete_failed_by_its_own_object_is_its_success() -> None:
    """Sent again after a 500 that hid its success, the Complete meets its own object (412):
    the upload is gone and the object is the one these parts make, so 200 with its ETag."""
    etag = multipart_etag([PART])
    assert etag is not None
    upstream = Upstream(upload_open=False, etag=etag)
    assert answer(upstream, CONDITIONAL, S3ErrorCode.PreconditionFailed) == etag
    assert upstream.asked == ["ListParts", "HeadObject"]


def test_a_conditional_complete_failed_while_its_upload_is_there_stays_412() -> None:
    upstream = Upstream(upload_open=True, etag='"other"')
    assert answer(upstream, CONDITIONAL, S3ErrorCode.PreconditionFailed) == "PreconditionFailed"
    assert upstream.asked == ["ListParts"]


def test_a_conditional_complete_whose_upload_another_object_replaced_is_no_such_upload() -> None:
    upstream = Upstream(upload_open=False, etag='"0123456789abcdef0123456789abcdef"')
    assert answer(upstream, CONDITIONAL, S3ErrorCode.PreconditionFailed) == "NoSuchUpload"


def test_an_unconditional_412_asks_nothing() -> None:
    upstream = Upstream(upload_open=False, etag=None)
    assert answer(upstream, REQUEST, S3ErrorCode.PreconditionFailed) == "PreconditionFailed"
    assert upstream.asked == []


# -- an InternalError inside a Complete's 200 is asked again, as a 500 is ----------------------


def complete_then(*answers: bytes) -> tuple[Handler, list[str]]:
    """An upstream answering each Complete (POST) with the next of ``answers`` inside a 200,
    and ListParts with the upload still there; the requests it got, in order."""
    seen: list[str] = []
    queue = list(answers)

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.method)
        if request.method == "GET":
            page = b"<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>"
            return web.Response(body=page)
        return web.Response(body=queue.pop(0) if len(queue) > 1 else queue[0])

    return handler, seen


EMBEDDED_500 = b"  \n<Error><Code>InternalError</Code><Message>upstream text</Message></Error>"
DONE = b'<CompleteMultipartUploadResult><ETag>"abc-1"</ETag></CompleteMultipartUploadResult>'


def test_an_internal_error_inside_a_200_complete_is_asked_again() -> None:
    """S3: a Complete can fail after its 200 status line, and a failed Complete is retried,
    500s included. The proxy asks again as for a 500 status (after ListParts finds the
    upload): the client gets the second answer."""
    handler, seen = complete_then(EMBEDDED_500, DONE)
    assert run_complete(handler, f'"{MD5_A}"').etag == '"abc-1"'
    assert seen == ["POST", "GET", "POST"]


def test_an_internal_error_inside_every_200_complete_is_500_in_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(s3_multipart, "COMPLETE_DELAYS", (0.0, 0.0))
    handler, seen = complete_then(EMBEDDED_500)
    with pytest.raises(S3Error) as raised:
        run_complete(handler, f'"{MD5_A}"')
    assert raised.value.code is S3ErrorCode.InternalError
    assert "upstream text" not in raised.value.message
    assert seen == ["POST", "GET", "POST", "GET", "POST"]
