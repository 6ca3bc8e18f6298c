"""Data safety under races and retries, through the proxy, on every upstream.

Wave 8 probed single requests (and the local store's own races: test_local_store_probe.py).
Here two or more requests on one key or one upload race through the proxy's own layers
(completion checks, upload records, conditional reads and copies, quota accounting) in front
of each real upstream. What must hold whatever the interleaving: an object is wholly one
write, never a mix; a 200 means exactly what it says was done; nothing is left behind (no
upload listed); a quota's usage equals what is stored.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    proxy_settings,
    start_proxy,
)
from tests.integration.test_quotas import usage
from tests.support.relay import Relay, Reset, relay_to

pytestmark = pytest.mark.integration

BUCKET = "races"
ROUNDS = 3


@pytest.fixture(autouse=True)
def races_bucket(request: pytest.FixtureRequest) -> None:
    """alice's bucket "races" (only this module's: records_left reads its upload records)."""
    name = next((n for n in ("quota_proxy", "proxy") if n in request.fixturenames), None)
    if name is None:  # the relayed proxy's test makes its own
        return
    client = request.getfixturevalue(name).client("alice")
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", the answer) or (the S3 error code, None)."""
    try:
        return "ok", call()
    except ClientError as error:
        return str(error.response["Error"]["Code"]), None


def together(*calls: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Run ``calls`` at once (released by one barrier), each answer as :func:`outcome`."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> tuple[str, Any]:
        barrier.wait()
        return outcome(call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def stored(client: Any, key: str) -> tuple[bytes, str] | None:
    """The object's body and ETag, or None when there is none."""
    code, got = outcome(lambda: client.get_object(Bucket=BUCKET, Key=key))
    if code in ("NoSuchKey", "404"):
        return None
    assert code == "ok", code
    return got["Body"].read(), got["ETag"]


def no_uploads(client: Any, key: str) -> None:
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", []) == []


def one_part_upload(client: Any, key: str, body: bytes, **create: Any) -> tuple[str, list[Any]]:
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if create else {}
    part = client.upload_part(
        Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=body, **extra
    )
    listed = {"PartNumber": 1, "ETag": part["ETag"]}
    if create:
        listed["ChecksumCRC32"] = part["ChecksumCRC32"]
    return upload, [listed]


def complete(client: Any, key: str, upload: str, parts: list[Any]) -> Callable[[], Any]:
    return lambda: client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )


def records_left(proxy: Proxy) -> list[str]:
    """Upload records under alice's home (S3 upstreams; the local store keeps none there
    except public-ACL marks, which these tests do not make)."""
    if proxy.upstream is None:
        return []
    listed = proxy.upstream.list_objects_v2(Bucket=HOME_BUCKET, Prefix=f"alice/.uploads/{BUCKET}/")
    return [entry["Key"] for entry in listed.get("Contents", [])]


# -- multipart: Complete against Complete, Abort, UploadPart ---------------------------------


BUSY = "ServiceUnavailable"
"""Ceph RGW 16 answers a Complete while another of the same upload runs with 500 "This
multipart completion is already in progress", and some reads racing a write with 500: the
proxy asks again (s3proxy.backends.upstream_retry), so a client never sees it (as on S3)."""


@pytest.mark.parametrize("checksum", [False, True], ids=["plain", "crc32-records"])
def test_racing_completes_of_one_upload_agree(proxy: Proxy, checksum: bool) -> None:
    """Three Completes of one upload at once: each answers 200 with the one object's ETag
    (a retry of a finished Complete is 200, as S3 answers SDKs' retries) or NoSuchUpload,
    never a 5xx; the object is the upload's; no upload or record is left."""
    client = proxy.client("alice")
    create = {"ChecksumAlgorithm": "CRC32"} if checksum else {}
    for round_ in range(ROUNDS):
        key = f"race/completes-{checksum}-{round_}"
        body = os.urandom(70_000 + round_)
        upload, parts = one_part_upload(client, key, body, **create)
        answers = together(*[complete(client, key, upload, parts)] * 3)
        codes = [code for code, _ in answers]
        assert set(codes) <= {"ok", "NoSuchUpload"} and "ok" in codes, codes
        etags = {answer["ETag"] for code, answer in answers if code == "ok"}
        assert etags == {multipart_etag([body])}
        assert stored(client, key) == (body, multipart_etag([body]))
        no_uploads(client, key)
    assert records_left(proxy) == []


@pytest.mark.parametrize("checksum", [False, True], ids=["plain", "crc32-records"])
def test_complete_racing_abort_has_one_consistent_outcome(proxy: Proxy, checksum: bool) -> None:
    """A 200 for Complete means the object is there, whole; a Complete that lost is
    NoSuchUpload (never InvalidPart: no part was wrong) and leaves no object; either way no
    upload and no record is left."""
    client = proxy.client("alice")
    create = {"ChecksumAlgorithm": "CRC32"} if checksum else {}
    for round_ in range(ROUNDS):
        key = f"race/abort-{checksum}-{round_}"
        body = os.urandom(60_000 + round_)
        upload, parts = one_part_upload(client, key, body, **create)

        def aborting(key: str = key, upload: str = upload) -> Any:
            return client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)

        (done, _), (aborted, _) = together(complete(client, key, upload, parts), aborting)
        assert aborted in ("ok", "NoSuchUpload"), aborted  # Ceph's 500: asked again
        assert done in ("ok", "NoSuchUpload"), done
        if done == "ok":
            assert stored(client, key) == (body, multipart_etag([body]))
        else:
            assert stored(client, key) is None
        outcome(aborting)
        no_uploads(client, key)
    assert records_left(proxy) == []


def test_a_part_resent_during_complete_never_mixes_into_the_object(proxy: Proxy) -> None:
    """Complete names part 1's first body while the client sends part 1 again with another:
    a 200 must mean the object is the body it named (its ETag says so), never the other."""
    client = proxy.client("alice")
    for round_ in range(ROUNDS):
        key = f"race/resent-{round_}"
        first, second = os.urandom(50_000), os.urandom(50_001)
        upload, parts = one_part_upload(client, key, first)

        def resend(key: str = key, upload: str = upload, second: bytes = second) -> Any:
            return client.upload_part(
                Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=second
            )

        (done, answer), _ = together(complete(client, key, upload, parts), resend)
        found = stored(client, key)
        if done == "ok":
            assert answer["ETag"] == multipart_etag([first])
            assert found == (first, multipart_etag([first]))
        else:
            assert done in ("InvalidPart", "NoSuchUpload"), done
            assert found is None or found[0] != second or found[1] == multipart_etag([second])
        outcome(
            lambda key=key, upload=upload: client.abort_multipart_upload(
                Bucket=BUCKET, Key=key, UploadId=upload
            )
        )
        no_uploads(client, key)


def test_upload_part_after_complete_is_no_such_upload(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = "race/late-part"
    body = os.urandom(40_000)
    upload, parts = one_part_upload(client, key, body)
    complete(client, key, upload, parts)()
    code, _ = outcome(
        lambda: client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=2, Body=b"late"
        )
    )
    assert code == "NoSuchUpload"
    assert stored(client, key) == (body, multipart_etag([body]))
    no_uploads(client, key)
    # The retried Complete still answers as the first did, and changes nothing.
    assert complete(client, key, upload, parts)()["ETag"] == multipart_etag([body])
    assert stored(client, key) == (body, multipart_etag([body]))


# -- reads during overwrites ------------------------------------------------------------------


def test_reads_during_overwrites_are_whole_and_match_their_etag(proxy: Proxy) -> None:
    """GETs (whole and ranged with If-Match, as s3transfer downloads) while the key is
    overwritten: each body is wholly one version and carries that version's ETag; a ranged
    read of a version that was replaced is 412, never bytes of the newer one, and never a
    5xx (Ceph RGW 16's 500 to a read racing a write is asked again: :data:`BUSY`)."""
    client = proxy.client("alice")
    key = "race/overwritten"
    versions = [bytes([65 + n]) * 200_000 + os.urandom(16) for n in range(3)]
    client.put_object(Bucket=BUCKET, Key=key, Body=versions[0])
    by_etag = {md5(body): body for body in versions}
    stop = threading.Event()

    def overwrite() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            client.put_object(Bucket=BUCKET, Key=key, Body=versions[n % len(versions)])

    writer = threading.Thread(target=overwrite)
    writer.start()
    try:
        for _ in range(12):
            code, got = outcome(lambda: client.get_object(Bucket=BUCKET, Key=key))
            assert code == "ok", code
            data = got["Body"].read()
            assert by_etag.get(got["ETag"]) == data
            etag = client.head_object(Bucket=BUCKET, Key=key)["ETag"]
            for first in (0, 100_000):
                code, ranged = outcome(
                    lambda etag=etag, first=first: client.get_object(
                        Bucket=BUCKET,
                        Key=key,
                        IfMatch=etag,
                        Range=f"bytes={first}-{first + 99_999}",
                    )
                )
                if code == "ok":
                    assert ranged["ETag"] == etag
                    assert ranged["Body"].read() == by_etag[etag][first : first + 100_000]
                else:
                    assert code == "PreconditionFailed", code
    finally:
        stop.set()
        writer.join()


# -- copies racing an overwrite of their source ----------------------------------------------


def test_conditional_copy_racing_a_source_overwrite_copies_the_named_version(proxy: Proxy) -> None:
    """CopyObject with ``x-amz-copy-source-if-match`` the old ETag while the source is
    overwritten: 200 only with the old bytes in the target, else 412 and the target as it was."""
    client = proxy.client("alice")
    source, target = "race/copy-source", "race/copy-target"
    for round_ in range(ROUNDS * 2):
        old, new = os.urandom(30_000 + round_), os.urandom(30_001 + round_)
        client.put_object(Bucket=BUCKET, Key=source, Body=old)
        client.put_object(Bucket=BUCKET, Key=target, Body=b"before")
        copying = lambda old=old: client.copy_object(  # noqa: E731
            Bucket=BUCKET, Key=target, CopySource=f"{BUCKET}/{source}", CopySourceIfMatch=md5(old)
        )
        overwriting = lambda new=new: client.put_object(  # noqa: E731
            Bucket=BUCKET, Key=source, Body=new
        )
        (copied, _), (written, _) = together(copying, overwriting)
        assert written == "ok"
        if copied == "ok":
            assert stored(client, target) == (old, md5(old))
        else:
            assert copied == "PreconditionFailed", copied
            assert stored(client, target) == (b"before", md5(b"before"))


def test_part_copy_with_a_failed_source_condition_copies_nothing(proxy: Proxy) -> None:
    """UploadPartCopy whose source was overwritten since the client read its ETag (as a copy
    tool checks it): 412, and the upload has no such part."""
    client = proxy.client("alice")
    source, key = "race/part-source", "race/part-target"
    client.put_object(Bucket=BUCKET, Key=source, Body=b"old source")
    old_etag = md5(b"old source")
    client.put_object(Bucket=BUCKET, Key=source, Body=b"new source")
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    try:
        code, _ = outcome(
            lambda: client.upload_part_copy(
                Bucket=BUCKET,
                Key=key,
                UploadId=upload,
                PartNumber=1,
                CopySource=f"{BUCKET}/{source}",
                CopySourceIfMatch=old_etag,
            )
        )
        assert code == "PreconditionFailed"
        assert client.list_parts(Bucket=BUCKET, Key=key, UploadId=upload).get("Parts", []) == []
    finally:
        client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)


def test_self_copy_with_replace_metadata_keeps_the_bytes(proxy: Proxy) -> None:
    client = proxy.client("alice")
    key = "race/self-copy"
    body = os.urandom(20_000)
    client.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={"v": "1"})
    client.copy_object(
        Bucket=BUCKET, Key=key, CopySource=f"{BUCKET}/{key}", CopySourceIfMatch=md5(body),
        MetadataDirective="REPLACE", Metadata={"v": "2"},
    )  # fmt: skip
    got = client.get_object(Bucket=BUCKET, Key=key)
    assert (got["Body"].read(), got["ETag"], got["Metadata"]) == (body, md5(body), {"v": "2"})


# -- quota accounting under racing overwrites and deletes ------------------------------------

QUOTA_UPSTREAMS = {"seaweedfs": ("seaweed", "upstream_s3"), "ceph": ("ceph_rgw", "ceph_s3")}


def _lanes() -> list[str]:
    chosen = os.environ.get("S3PROXY_TEST_BACKENDS")
    return [lane for lane in ("seaweedfs", "ceph", "local") if not chosen or lane in chosen]


@pytest.fixture(scope="module", params=[lane for lane in _lanes() if lane in QUOTA_UPSTREAMS])
def quota_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """One worker (one process counts: README "Quotas"), alice with a tenant quota. S3
    upstreams only: the local store counts inside the transaction that writes (exact, and
    tested with racing writers in test_quotas.py)."""
    server, upstream = (request.getfixturevalue(n) for n in QUOTA_UPSTREAMS[request.param])
    create_upstream_buckets(upstream)
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    prefix = f"race-{os.urandom(5).hex()}/"
    tenants["alice"]["home"] = {"upstream": UPSTREAM, "bucket": HOME_BUCKET, "prefix": prefix}
    tenants["alice"]["buckets"] = {}
    tenants["alice"]["quota"] = {"max_bytes": 10_000_000}
    workdir = tmp_path_factory.mktemp(f"race-quota-{request.param}")
    running = start_proxy(server, upstream, workdir, tenants=tenants, server={"workers": 1})
    try:
        yield running
    finally:
        running.process.stop()


def test_racing_overwrites_and_deletes_of_one_key_keep_usage_exact(quota_proxy: Proxy) -> None:
    """Twenty PUTs (of different sizes) and DELETEs of one key at once, through one process:
    each reads what it replaces or frees, so usage afterwards is exactly what is stored."""
    client = quota_proxy.client("alice")
    key = "race/quota"
    client.put_object(Bucket=BUCKET, Key="race/other", Body=b"x" * 100)
    for round_ in range(2):
        calls: list[Callable[[], Any]] = []
        for n in range(20):
            if n % 3 == 2:
                calls.append(lambda: client.delete_object(Bucket=BUCKET, Key=key))
            else:
                body = b"q" * (1000 + 10 * n + round_)
                calls.append(lambda body=body: client.put_object(Bucket=BUCKET, Key=key, Body=body))
        assert {code for code, _ in together(*calls)} == {"ok"}
        listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        report = usage(quota_proxy)
        assert (report["objects"], report["bytes"]) == (
            len(listed),
            sum(entry["Size"] for entry in listed),
        )


# -- an upstream that stores a write and then drops the connection ----------------------------


@pytest.fixture(scope="module")
def relayed_quota_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay]]:
    """A one-worker quota proxy whose SeaweedFS answers through a relay that can cut them."""
    if "seaweedfs" not in _lanes():
        pytest.skip("the relay runs in front of SeaweedFS")
    server, upstream = (request.getfixturevalue(n) for n in QUOTA_UPSTREAMS["seaweedfs"])
    create_upstream_buckets(upstream)
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    prefix = f"race-{os.urandom(5).hex()}/"
    tenants["alice"]["home"] = {"upstream": UPSTREAM, "bucket": HOME_BUCKET, "prefix": prefix}
    tenants["alice"]["buckets"] = {}
    tenants["alice"]["quota"] = {"max_bytes": 10_000_000}
    workdir = tmp_path_factory.mktemp("race-relay")
    with relay_to(server.endpoint) as relay:
        running = start_proxy(
            server, upstream, workdir, {"endpoint": relay.endpoint},
            tenants=tenants, server={"workers": 1},
        )  # fmt: skip
        try:
            yield running, relay
        finally:
            running.process.stop()


def test_a_write_stored_but_unanswered_is_counted_once_the_client_retries(
    relayed_quota_proxy: tuple[Proxy, Relay],
) -> None:
    """The upstream stores a PUT, then its connection breaks before the answer: the client
    gets a 5xx it retries (never a 200: the proxy cannot know), and once the retry has
    answered, usage is exactly what is stored."""
    proxy, relay = relayed_quota_proxy
    client = proxy.client("alice")
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    body = b"c" * 1234
    relay.rewrite = lambda x: Reset(b"") if x.method == "PUT" and x.path.endswith("cut") else None
    try:
        code, _ = outcome(lambda: client.put_object(Bucket=BUCKET, Key="race/cut", Body=body))
    finally:
        relay.clear()
    assert code in ("ServiceUnavailable", "InternalError"), code
    assert client.get_object(Bucket=BUCKET, Key="race/cut")["Body"].read() == body  # stored
    client.put_object(Bucket=BUCKET, Key="race/cut", Body=body)  # the SDK's retry
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    report = usage(proxy)
    assert (report["objects"], report["bytes"]) == (len(listed), sum(e["Size"] for e in listed))
