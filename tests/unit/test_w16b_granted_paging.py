"""A tenant pages another tenant's listings that the owner's ACL grants it (wave 16 B).

ListObjectsV2 and ListMultipartUploads are served to another tenant where the bucket's ACL
grants READ (s3proxy.granted_reads), as the owner's listing: its NextContinuationToken and
NextUploadIdMarker are the owner's. The next page's token was checked by the caller's own
storage before any bucket was looked at, so every page after the first was 400 InvalidArgument:
``aws s3 ls`` of such a bucket stopped at 1,000 keys. A token is now refused only once the
bucket is found (S3's order): a bucket the caller does not have is NoSuchBucket, which sends the
request to the granted path, where the token verifies. In process on the local store."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from tests.unit.test_granted_reads import ALICE, BOB, CAROL, NO_BUCKET, Client, outcome, run

BUCKET = "granted-pages"


def field(body: bytes, name: str) -> str:
    found = re.search(rb"<" + name.encode() + rb">([^<]*)</", body)
    assert found is not None, (name, body)
    return found.group(1).decode()


def keys_of(body: bytes) -> list[str]:
    return [key.decode() for key in re.findall(rb"<Key>([^<]*)</Key>", body)]


async def pages(call: Client, who: tuple[str, str], first: str, more: str) -> list[list[str]]:
    """Every page of a listing (``more``: the next page's query, from the last page's body)."""
    got, query = [], first
    for _ in range(10):
        answer = await call(who, "GET", f"{BUCKET}?{query}")
        assert answer.status == 200, (query, answer.body)
        got.append(keys_of(answer.body))
        if field(answer.body, "IsTruncated") != "true":
            return got
        named = [n for n in NAMES if "{" + n + "}" in more]
        query = more.format(**{n: quote(field(answer.body, n), safe="") for n in named})
    raise AssertionError("the listing never ended")


NAMES = ("NextContinuationToken", "NextKeyMarker", "NextUploadIdMarker")
V2 = ("list-type=2&max-keys=1", "list-type=2&max-keys=1&continuation-token={NextContinuationToken}")
UPLOADS = (
    "uploads&max-uploads=1",
    "uploads&max-uploads=1&key-marker={NextKeyMarker}&upload-id-marker={NextUploadIdMarker}",
)


def test_a_granted_reader_pages_the_owners_listings(tmp_path: Path) -> None:
    async def scenario(call: Client) -> None:
        acl = {"x-amz-acl": "authenticated-read"}
        assert (await call(ALICE, "PUT", BUCKET, headers=acl)).status == 200
        for key in ("a", "b", "c"):
            assert (await call(ALICE, "PUT", f"{BUCKET}/{key}", b"x")).status == 200
            assert (await call(ALICE, "POST", f"{BUCKET}/{key}?uploads")).status == 200
        wanted = [["a"], ["b"], ["c"]]
        for who in (ALICE, BOB):
            assert await pages(call, who, *V2) == wanted
            uploads = await pages(call, who, *UPLOADS)
            assert uploads == wanted, uploads
        # A token of the owner's listing is no token for the reader's own bucket of that name.
        first = await call(BOB, "GET", f"{BUCKET}?list-type=2&max-keys=1")
        token = quote(field(first.body, "NextContinuationToken"), safe="")
        assert (await call(BOB, "PUT", BUCKET)).status == 200
        own = await call(BOB, "GET", f"{BUCKET}?list-type=2&continuation-token={token}")
        assert outcome(own) == (400, "InvalidArgument")
        assert (await call(BOB, "DELETE", BUCKET)).status == 204

    run(tmp_path, scenario)


def test_a_token_for_a_bucket_the_caller_cannot_see_answers_the_bucket(tmp_path: Path) -> None:
    """S3's order: the bucket before the request's validity. A private bucket of another
    tenant's, or none at all: NoSuchBucket, whatever the token; the owner's bad token stays
    InvalidArgument."""

    async def scenario(call: Client) -> None:
        assert (await call(ALICE, "PUT", BUCKET)).status == 200
        for key in ("a", "b"):
            assert (await call(ALICE, "PUT", f"{BUCKET}/{key}", b"x")).status == 200
        first = await call(ALICE, "GET", f"{BUCKET}?list-type=2&max-keys=1")
        token = quote(field(first.body, "NextContinuationToken"), safe="")
        for query in (
            f"list-type=2&continuation-token={token}",
            "list-type=2&continuation-token=made-up",
            "uploads&key-marker=a&upload-id-marker=made-up",
        ):
            for name in (BUCKET, "never-made"):
                answer = await call(CAROL, "GET", f"{name}?{query}")
                assert outcome(answer) == NO_BUCKET, (name, query)
            mine = await call(ALICE, "GET", f"{BUCKET}?{query.replace(token, 'made-up')}")
            assert outcome(mine) == (400, "InvalidArgument"), query

    run(tmp_path, scenario)


def test_the_fuzz_pages_another_tenants_granted_listings() -> None:
    """The model-based fuzz's sequence for it: b pages a's authenticated-read bucket, whose
    objects and uploads take two pages each (its list_uploads rule now pages too)."""
    from tests.unit.test_w14i_stateful import LocalFuzz

    state = LocalFuzz()
    try:
        state.create_bucket(party="a", name="nm1", acl="authenticated-read")
        for key in ("k", "p/x"):
            state.put_object(party="a", name="nm1", key=key, body=b"0", acl=None)
            state.create_upload(party="a", name="nm1", key=key, acl=None)
        state.list_objects(party="b", name="nm1", v2=True, prefix="", delimiter=None, page=1,
                           encoded=False, after=None)  # fmt: skip
        state.list_uploads(party="b", name="nm1", page=1)
    finally:
        state.teardown()
