"""The per-request shortcuts of issue 18 (benchmarks/request_path.py) answer exactly as the long
way did: authentication that reuses the parsed request's header map and query, the cached
credential parse and re-encoded query components, the log timestamp made once per second, the
access line written straight into the batch, request ids, remembered bucket roots and metric
children."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prometheus_client import REGISTRY

from s3proxy import metrics
from s3proxy.auth import authorization
from s3proxy.auth.canonical import canonical_query
from s3proxy.auth.dispatch import Verified, authenticate
from s3proxy.auth.presigned import verify_presigned_v4
from s3proxy.auth.sigv4 import parse_authorization, verify_header_auth
from s3proxy.backends.mapped import MappedStorage
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.layout import TenantLayout, UpstreamRoot, locate
from s3proxy.logs import ACCESS_LOGGER, timestamp, write_access_line
from s3proxy.request import new_request_id, parse_request
from tests.support.logging_capture import production_logging_to_string

AK, SK = "AKREQUESTPATHTEST001", "request-path-test-secret-0123456"
OTHER_AK, OTHER_SK = "AKREQUESTPATHTEST002", "another-secret-for-the-other-key"
SECRETS = {AK: SK, OTHER_AK: OTHER_SK}
URL = "http://127.0.0.1:9000/bkt/some%20key"
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- authentication


def _scope(method: str, url: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "type": "http",
        "method": method,
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }


def _header_signed(
    extra: Sequence[tuple[str, str]] = (), after: Sequence[tuple[str, str]] = ()
) -> tuple[str, list[tuple[str, str]]]:
    """(url, headers) of a botocore-signed GET with ``extra`` signed and ``after`` added later."""
    request = AWSRequest(method="GET", url=URL)
    for name, value in extra:
        request.headers[name] = value  # assigning twice keeps both: a repeated header
    request.headers["Host"] = "127.0.0.1:9000"
    S3SigV4Auth(Credentials(AK, SK), "s3", "us-east-1").add_auth(request)
    headers = [(name, str(value)) for name, value in request.headers.items()]
    return URL, [*headers, *after]


def _presigned(query_edit: Callable[[str], str] = lambda q: q) -> tuple[str, list[tuple[str, str]]]:
    request = AWSRequest(method="GET", url=URL)
    S3SigV4QueryAuth(Credentials(AK, SK), "s3", "us-east-1", expires=900).add_auth(request)
    parts = urlsplit(request.url)
    return f"{URL}?{query_edit(parts.query)}", [("Host", "127.0.0.1:9000")]


def _outcome(call: Callable[[], Verified]) -> Any:
    try:
        return call()
    except S3Error as error:
        return _outcome_of(error)


def _outcome_of(error: S3Error) -> Any:
    return error.code, error.message, error.fields


def _both_ways(url: str, headers: list[tuple[str, str]]) -> tuple[Any, Any]:
    """(the verifier parsing headers and query itself, authenticate reusing the request's);
    a query that names a parameter twice with different values is refused by parse_request,
    before either (both sides are then that refusal)."""
    try:
        request = parse_request(_scope("GET", url, headers))
    except S3Error as error:
        return (_outcome_of(error),) * 2
    now = datetime.now(UTC)
    args = (request.method, request.raw_path, request.query_string, request.headers)
    verifier = verify_header_auth if request.header("authorization") else verify_presigned_v4
    alone = _outcome(lambda: verifier(*args, SECRETS.get, now))
    reused = _outcome(lambda: authenticate(request, SECRETS.get, now, max_skew=900, region=None))
    return alone, reused


# Signed when the test runs, not when the module is collected: a busy CI run can reach a case
# more than the 15 minutes of allowed skew after collection, and "plain" must still verify.
Signed = Callable[[], tuple[str, list[tuple[str, str]]]]
HEADER_CASES: dict[str, Signed] = {
    "plain": lambda: _header_signed(),
    "repeated signed meta, two spellings": lambda: _header_signed(
        [("X-Amz-Meta-A", "1"), ("x-amz-meta-a", "2"), ("X-Amz-Meta-A", " 3  4 ")]
    ),
    "doubled x-amz-date": lambda: _header_signed(after=[("x-amz-date", "20260101T000000Z")]),
    "doubled payload hash": lambda: _header_signed(
        after=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")]
    ),
    "unsigned amz header": lambda: _header_signed(after=[("x-amz-meta-late", "x")]),
}
PRESIGNED_CASES: dict[str, Signed] = {
    "plain": lambda: _presigned(),
    "second signature ignored": lambda: _presigned(lambda q: f"{q}&X-Amz-Signature={'0' * 64}"),
    "second signature first": lambda: _presigned(lambda q: f"X-Amz-Signature={'0' * 64}&{q}"),
    "hoisted payload hash": lambda: _presigned(
        lambda q: f"{q}&x-amz-content-sha256=UNSIGNED-PAYLOAD"
    ),
    "repeated date": lambda: _presigned(lambda q: f"{q}&X-Amz-Date=20260101T000000Z"),
}


@pytest.mark.parametrize("case", [*HEADER_CASES, *(f"presigned: {c}" for c in PRESIGNED_CASES)])
def test_authenticate_reusing_the_parsed_request_answers_as_the_verifier_alone(
    case: str,
) -> None:
    name = case.removeprefix("presigned: ")
    url, headers = (PRESIGNED_CASES if case.startswith("presigned") else HEADER_CASES)[name]()
    alone, reused = _both_ways(url, headers)
    assert reused == alone
    if name == "plain":
        assert not isinstance(alone, tuple), alone  # the plain requests do verify
    if name in ("second signature ignored", "second signature first", "repeated date"):
        assert alone[0] is S3ErrorCode.InvalidArgument  # refused while parsing (wave 13 D)


def test_a_cached_credential_never_lets_one_keys_signature_pass_for_another() -> None:
    url, headers = _header_signed()
    verified = _both_ways(url, headers)[1]
    assert not isinstance(verified, tuple) and verified.access_key == AK
    swapped = [(n, v.replace(f"Credential={AK}/", f"Credential={OTHER_AK}/")) for n, v in headers]
    for _ in range(2):  # the second time with both credentials parsed and cached
        assert _both_ways(url, swapped)[1][0] is S3ErrorCode.SignatureDoesNotMatch
    malformed = [(n, v.replace("/aws4_request", "/aws5_request")) for n, v in headers]
    for _ in range(2):  # a malformed credential is refused every time, never remembered
        assert _both_ways(url, malformed)[1][0] is S3ErrorCode.AuthorizationHeaderMalformed


SIG = "0a1B" * 16
CRED = f"Credential={AK}/20261203/us-east-1/s3/aws4_request"
AUTHORIZATIONS = [
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host;x-amz-date, Signature={SIG}",
    f"  AWS4-HMAC-SHA256 {CRED},SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature={SIG} ",
    f"AWS4-HMAC-SHA256 SignedHeaders=host, {CRED}, Signature={SIG}",
    f"AWS4-HMAC-SHA256 Signature={SIG}, {CRED}, SignedHeaders=host",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature={SIG}, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host;;x, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature=",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=host, Signature=not-hex",
    f"AWS4-HMAC-SHA256 {CRED}, SignedHeaders=ho st, Signature={SIG}",
    f"AWS4-HMAC-SHA256 {CRED}, Extra=1, SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA257 {CRED}, SignedHeaders=host, Signature={SIG}",
    f"AWS4-HMAC-SHA256 Credential={AK}/20261203/us-east-1/s4/aws4_request, SignedHeaders=host"
    f", Signature={SIG}",
]


@pytest.mark.parametrize("value", AUTHORIZATIONS)
def test_the_remembered_authorization_head_parses_as_the_whole_value(value: str) -> None:
    def parsed(parse: Callable[[str], Any]) -> Any:
        try:
            return parse(value)
        except S3Error as error:
            return error.code, error.message

    for _ in range(2):  # parsed, then from the remembered head
        assert parsed(parse_authorization) == parsed(authorization._parse_authorization)


def test_re_encoded_query_components_stay_a_function_of_their_text() -> None:
    for _ in range(2):
        assert canonical_query("b=%2f%2F&a=x%20y&c=%7E") == "a=x%20y&b=%2F%2F&c=~"
        assert canonical_query("Credential=AK%2F2026") == "Credential=AK%2F2026"


# ----------------------------------------------------------------------------- access log


@pytest.mark.parametrize(
    "seconds",
    [0.0, 1.0005, 1.9995, 1.0009995, 1.4999995, 1.9999995, 1764751185.123456, -1.5, -0.0000004],
)
def test_the_cached_timestamp_is_datetimes_own(seconds: float) -> None:
    expected = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    assert timestamp(seconds) == expected.replace("+00:00", "Z")


def test_timestamp_now_is_rfc3339_milliseconds() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = timestamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert 0 <= (parsed - before).total_seconds() < 5


@pytest.fixture
def production_logging() -> Iterator[io.StringIO]:
    with production_logging_to_string() as stream:
        yield stream


def test_access_lines_go_out_batched_as_the_logging_path_wrote_them(
    production_logging: io.StringIO,
) -> None:
    entry = {"time": "t", "request_id": "ID", "key": 'a "b" é', "status": 200, "ms": 0.5}
    write_access_line(entry)
    logging.getLogger(ACCESS_LOGGER).info(json.dumps(entry, separators=(",", ":")))
    assert production_logging.getvalue() == ""  # batched: nothing written before a flush
    logging.getLogger().handlers[0].flush()
    lines = production_logging.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert json.loads(lines[0]) == entry


def test_access_lines_reach_any_other_handler_too(production_logging: io.StringIO) -> None:
    seen: list[str] = []
    extra = logging.Handler()
    extra.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(extra)
    write_access_line({"status": 200})
    logging.getLogger().handlers[0].flush()
    assert seen == ['{"status":200}']
    assert production_logging.getvalue() == '{"status":200}\n'


def test_no_access_line_when_the_access_log_is_off(production_logging: io.StringIO) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    write_access_line({"status": 200})
    logging.getLogger().handlers[0].flush()
    assert production_logging.getvalue() == ""


# ------------------------------------------------------------------------ ids, roots, metrics


def test_request_ids_are_sixteen_hex_digits_and_differ_between_forked_workers() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"[0-9A-F]{16}", i) for i in ids)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the forked worker
        os.write(write, "".join(new_request_id() for _ in range(8)).encode())
        os._exit(0)
    os.waitpid(child, 0)
    os.close(write)
    theirs = os.read(read, 1024).decode()
    os.close(read)
    ours = "".join(new_request_id() for _ in range(8))
    assert len(theirs) == len(ours) == 128 and theirs != ours


def test_remembered_bucket_roots_locate_as_the_layout_does() -> None:
    tenant = TenantLayout(
        "t",
        home=UpstreamRoot("u", "home", "t/"),
        buckets={"mapped": UpstreamRoot("u", "shared", "m/")},
    )
    storage = MappedStorage(tenant, {"u": object()}, 1)  # type: ignore[dict-item]
    for _ in range(2):  # computed, then remembered
        for bucket in ("mapped", "created"):
            _, location = storage.locate(bucket, "k/ey", "flat")
            assert location == locate(tenant, bucket, "k/ey", 1, "flat")
    homeless = MappedStorage(TenantLayout("h"), {"u": object()}, 1)  # type: ignore[dict-item]
    for _ in range(2):
        with pytest.raises(S3Error) as refused:
            homeless.locate("anything", "k")
        assert refused.value.code is S3ErrorCode.NoSuchBucket


def test_each_answered_request_is_counted_once() -> None:
    labels = {"operation": "GetObject", "status": "200", "tenant": "request-path-test"}

    def counted() -> tuple[float, float]:
        requests = REGISTRY.get_sample_value("s3proxy_requests_total", labels) or 0.0
        seconds = REGISTRY.get_sample_value(
            "s3proxy_request_duration_seconds_count", {"operation": "GetObject"}
        )
        return requests, seconds or 0.0

    before = counted()
    for _ in range(3):
        metrics.observe_request("GetObject", 200, "request-path-test", 0.001, 0, 10)
    after = counted()
    assert (after[0] - before[0], after[1] - before[1]) == (3, 3)


def test_the_request_path_benchmark_runs() -> None:
    """benchmarks/request_path.py drives the app over its stub backend: kept working here."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.request_path", "--requests", "4", "--rounds", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"put-presigned +[0-9.]+ µs CPU/request", done.stdout)
