"""Long copies and Completes keep the client's connection alive (wave 18 A, s3proxy.early_answer).

S3 answers CopyObject, UploadPartCopy and CompleteMultipartUpload with 200 once the work began,
whitespace while it goes on, then the result, or an ``<Error>`` inside the 200. The gateway sent
nothing until it was done: a copy streamed through it, or a Complete the upstream took long
over, passed the client's read timeout, and the client sent the request again (the work done
twice; a Complete's retry may meet NoSuchUpload).

Here a relay (tests/support/relay.py) in front of the real SeaweedFS answers one request of
the test's choosing :data:`HOLD` seconds late, after carrying it out; the clients' read timeout
is :data:`READ_TIMEOUT`, half that, so without the early answer each times out (boto3 and the
aws cli then send the request again: the relay sees it twice). The gateway's delay and space
interval is :data:`BEAT`, a twelfth of the read timeout. Both engines. SeaweedFS only: the
behaviour is the gateway's, and the relay holds whatever upstream's answer.
"""

from __future__ import annotations

import concurrent.futures
import copy
import os
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.integration.conftest import (
    HOME_BUCKET,
    UPSTREAM,
    Proxy,
    create_upstream_buckets,
    lanes,
    proxy_settings,
    start_proxy,
)
from tests.integration.test_engine import ENGINES
from tests.integration.test_logs import access_lines, wait_for
from tests.support.clients import AwsCli
from tests.support.relay import Exchange, Relay, relay_to
from tests.support.s3http import object_url, signed

pytestmark = pytest.mark.integration

BUCKET = "w18a-early"
READ_TIMEOUT = 3
HOLD = 2 * READ_TIMEOUT
BEAT = 0.25
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
MiB = 1024 * 1024
SMALL = b"s" * 60_000
"""A copy source the gateway reads whole before its PUT (s3_object_reads.WHOLE_BODY_LIMIT):
its checksum then goes as a header, and the PUT has a Content-Length, which the relay needs."""


@pytest.fixture(scope="module", params=ENGINES)
def relayed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proxy, Relay]]:
    """(one-worker gateway on the engine ``request.param``, the relay before its SeaweedFS),
    alice's home under a fresh prefix and her bucket made. One stalled answer at most per
    worker: the early answers' waiting must not count as any."""
    if "seaweedfs" not in lanes():
        pytest.skip("needs the SeaweedFS lane")
    server, upstream = request.getfixturevalue("seaweed"), request.getfixturevalue("upstream_s3")
    create_upstream_buckets(upstream)
    tenants = copy.deepcopy(proxy_settings(None, 0, 0, Path("."))["tenants"])
    home = {"upstream": UPSTREAM, "bucket": HOME_BUCKET, "prefix": f"w18a-{os.urandom(5).hex()}/"}
    tenants["alice"]["home"] = home
    workdir = tmp_path_factory.mktemp(f"w18a-{request.param}")
    with relay_to(server.endpoint) as relay:
        options = {"workers": 1, "engine": request.param, "max_stalled_answers": 1}
        gateway = start_proxy(
            server, upstream, workdir, {"endpoint": relay.endpoint}, tenants=tenants,
            server={**options, "early_answer_seconds": BEAT},
        )  # fmt: skip
        try:
            gateway.client("alice").create_bucket(Bucket=BUCKET)
            yield gateway, relay
        finally:
            relay.clear()
            gateway.process.stop()


def client(gateway: Proxy, attempts: int = 3) -> Any:
    """boto3 as an application has it: a read timeout, and retries (standard mode)."""
    return boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=gateway.keys("alice")[0],
        aws_secret_access_key=gateway.keys("alice")[1],
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": attempts, "mode": "standard"},
            read_timeout=READ_TIMEOUT,
        ),
    )


Match = Callable[[Exchange], bool]


def put_of(key: str) -> Match:
    """The upstream PutObject (or server-side CopyObject) of client key ``key`` (letters and
    digits: the flat layout keeps them)."""
    return lambda e: e.method == "PUT" and e.path.endswith(f"/{key}") and not e.query


def part_of(key: str) -> Match:
    return lambda e: e.method == "PUT" and e.path.endswith(f"/{key}") and "partNumber" in e.query


def complete_of(key: str) -> Match:
    return lambda e: e.method == "POST" and e.path.endswith(f"/{key}") and "uploadId" in e.query


def held(relay: Relay, *matches: Match, answer: bytes | None = None) -> None:
    """The first upstream request each of ``matches`` accepts is answered :data:`HOLD`
    seconds late: carried out, then its answer held (``answer``: not carried out, and
    answered with these bytes instead). Later ones (a client's retry) pass at once."""
    waiting = list(matches)
    lock = threading.Lock()

    def hook(exchange: Exchange) -> bytes | None:
        with lock:
            found = next((match for match in waiting if match(exchange)), None)
            if found is not None:
                waiting.remove(found)
        if found is not None:
            threading.Event().wait(HOLD)  # the upstream taking its time
            return answer
        return None

    if answer is None:
        relay.rewrite = hook
    else:
        relay.answer = hook


def early_copies(gateway: Proxy, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The access lines of the early answers to copies into ``keys``."""
    lines = access_lines(gateway.process, operation="CopyObject", early=True)
    return [line for line in lines if line.get("key") in keys]


def seen(relay: Relay, match: Match) -> int:
    return sum(1 for exchange in list(relay.seen) if match(exchange))


def test_slow_copies_through_the_gateway_succeed_once(relayed: tuple[Proxy, Relay]) -> None:
    """Three copies at once whose bytes pass through the gateway (a new SHA-256 checksum:
    s3proxy.backends.part_copy), each upstream PUT answered twice the read timeout late: two by
    boto3, one by a raw client, which sees the wire form (a chunked 200, the declaration,
    spaces, then the CopyObjectResult). Each copy is made once, none is refused, and the
    waiting counted as no stalled answer (one is allowed per worker)."""
    gateway, relay = relayed
    s3 = client(gateway)
    s3.put_object(Bucket=BUCKET, Key="source", Body=SMALL)
    keys = ("copied1", "copied2", "copied3")
    held(relay, *(put_of(key) for key in keys))
    copy_headers = {"x-amz-copy-source": f"/{BUCKET}/source", "x-amz-checksum-algorithm": "SHA256"}

    def boto(key: str) -> Any:
        return s3.copy_object(
            Bucket=BUCKET, Key=key, CopySource=f"{BUCKET}/source", ChecksumAlgorithm="SHA256"
        )

    def raw(key: str) -> Any:
        ak, sk = gateway.keys("alice")
        return signed("PUT", object_url(gateway.endpoint, BUCKET, key), ak, sk, copy_headers)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        answers = [
            pool.submit(boto, keys[0]),
            pool.submit(boto, keys[1]),
            pool.submit(raw, keys[2]),
        ]
        results = [answer.result() for answer in answers]
    relay.clear()
    assert all(result["CopyObjectResult"]["ChecksumSHA256"] for result in results[:2])
    wire = results[2]
    assert wire.status == 200 and wire.header("Content-Length") is None
    assert (wire.header("Transfer-Encoding") or "").lower() == "chunked"
    rest = wire.body.removeprefix(DECLARATION)
    assert rest != wire.body and rest.startswith(b" ")
    assert rest.lstrip(b" ").startswith(b"<CopyObjectResult")
    assert ET.fromstring(wire.body).findtext("{*}ChecksumSHA256")
    assert [seen(relay, put_of(key)) for key in keys] == [1, 1, 1]
    for key in keys:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == SMALL
    metrics = urllib.request.urlopen(f"{gateway.admin_endpoint}/metrics", timeout=30).read()
    assert b'limit="max_stalled_answers"' not in metrics
    wait_for(lambda: len(early_copies(gateway, keys)) == 3, "the early copies' access lines")
    assert {line["status"] for line in early_copies(gateway, keys)} == {200}


def test_a_slow_part_copy_and_a_slow_complete_succeed_once(
    relayed: tuple[Proxy, Relay],
) -> None:
    """boto3's UploadPartCopy and CompleteMultipartUpload, each answered upstream twice the
    read timeout late: each done once (before, the Complete's retry could meet NoSuchUpload)."""
    gateway, relay = relayed
    s3 = client(gateway)
    s3.put_object(Bucket=BUCKET, Key="partsource", Body=b"p" * 10_000)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="assembled")["UploadId"]
    held(relay, part_of("assembled"), complete_of("assembled"))
    part = s3.upload_part_copy(
        Bucket=BUCKET, Key="assembled", UploadId=upload, PartNumber=1,
        CopySource=f"{BUCKET}/partsource",
    )  # fmt: skip
    etag = part["CopyPartResult"]["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="assembled", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    relay.clear()
    assert done["Key"] == "assembled" and done["ETag"].endswith('-1"')
    assert seen(relay, part_of("assembled")) == 1
    assert seen(relay, complete_of("assembled")) == 1
    assert s3.get_object(Bucket=BUCKET, Key="assembled")["Body"].read() == b"p" * 10_000


def test_the_aws_cli_copies_and_completes_once(
    relayed: tuple[Proxy, Relay], tmp_path: Path
) -> None:
    """``aws s3 cp`` of a 9 MiB file (a multipart upload: its Complete held) and ``aws s3api
    copy-object`` (its bytes through the gateway, held), with ``--cli-read-timeout``."""
    gateway, relay = relayed
    aws = AwsCli(gateway.endpoint, gateway.keys("alice"), tmp_path)
    source = tmp_path / "nine.bin"
    source.write_bytes(os.urandom(9 * MiB))
    timeout = ("--cli-read-timeout", str(READ_TIMEOUT))
    small = tmp_path / "small.bin"
    small.write_bytes(SMALL)
    held(relay, complete_of("clifile"), put_of("clicopy"))
    aws(*timeout, "s3", "cp", str(source), f"s3://{BUCKET}/clifile")
    aws("s3", "cp", str(small), f"s3://{BUCKET}/clismall")
    aws(
        *timeout, "s3api", "copy-object", "--bucket", BUCKET, "--key", "clicopy",
        "--copy-source", f"{BUCKET}/clismall", "--checksum-algorithm", "SHA256",
    )  # fmt: skip
    relay.clear()
    assert seen(relay, complete_of("clifile")) == 1
    assert seen(relay, put_of("clicopy")) == 1
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{BUCKET}/clifile", str(back))
    assert back.read_bytes() == source.read_bytes()
    aws("s3", "cp", f"s3://{BUCKET}/clicopy", str(back))
    assert back.read_bytes() == SMALL


UPLOAD_TOO_SMALL = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n%s"
)
ERROR_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>EntityTooSmall</Code>'
    b"<Message>Your proposed upload is smaller than the minimum allowed object size.</Message>"
    b"<RequestId>upstream</RequestId></Error>"
)


def test_an_error_after_the_200_began_reaches_boto3_as_its_error(
    relayed: tuple[Proxy, Relay],
) -> None:
    """A Complete the upstream refuses (EntityTooSmall) twice the read timeout late, long
    after the gateway's 200 began: boto3 raises that very error (its 200 with an ``<Error>``,
    as S3 sends one), and the access line has the outcome: 400 EntityTooSmall, early."""
    gateway, relay = relayed
    s3 = client(gateway, attempts=1)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="refused")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="refused", UploadId=upload, PartNumber=1, Body=b"r")
    held(relay, complete_of("refused"), answer=UPLOAD_TOO_SMALL % (len(ERROR_BODY), ERROR_BODY))
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="refused", UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag["ETag"]}]},
        )  # fmt: skip
    relay.clear()
    error = raised.value.response["Error"]
    assert error["Code"] == "EntityTooSmall", raised.value.response
    assert "upstream" not in str(raised.value.response)  # the gateway's own document
    request_id = raised.value.response["ResponseMetadata"]["RequestId"]
    (line,) = wait_for(
        lambda: access_lines(gateway.process, request_id=request_id), "the Complete's line"
    )
    assert (line["status"], line["error"], line["early"]) == (400, "EntityTooSmall", True)


def test_a_fast_copy_is_answered_as_before(relayed: tuple[Proxy, Relay]) -> None:
    """A copy done within the delay: its Content-Length, the document at once, no spaces."""
    gateway, _ = relayed
    s3 = client(gateway)
    s3.put_object(Bucket=BUCKET, Key="quick", Body=b"q")
    ak, sk = gateway.keys("alice")
    url = object_url(gateway.endpoint, BUCKET, "quickcopy")
    answer = signed("PUT", url, ak, sk, {"x-amz-copy-source": f"/{BUCKET}/quick"})
    assert answer.status == 200
    assert answer.header("Content-Length") == str(len(answer.body))
    assert answer.body.startswith(DECLARATION + b"<CopyObjectResult")
