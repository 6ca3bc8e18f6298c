"""A credential endpoint that refuses the gateway is named for what it is (wave 16, E).

An STS AccessDenied (a role the gateway may not assume: its trust policy, or the caller's
permissions) showed in /readyz as ``Unreachable``, the condition of an upstream or endpoint
that does not answer, so an operator looked at the network. It is now ``CredentialsRefused``
with STS's code and message in ``details``; like ``AuthFailure`` it is shared (every replica
asks STS the same), so one such upstream among others that answer leaves the replica ready.
Throttling and endpoints that do not answer stay ``Unreachable``; clients get the same 503 as
before; every request that could not be signed counts in
``s3proxy_upstream_errors_total{kind="credentials"}``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from prometheus_client import REGISTRY

from s3proxy.backends.base import NotReady
from s3proxy.backends.credentials import ChainCredentials, botocore_chain
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from tests.unit.test_w15e3_readiness import readyz_with_other_credentials

DENIED = (
    "User: arn:aws:iam::123456789012:user/gw is not authorized to perform: sts:AssumeRole"
    " on resource: arn:aws:iam::123456789012:role/storage"
)


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    answer: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(answer, "AssumeRole")


def _raising(error: Exception) -> Any:
    def resolve() -> Any:
        raise error

    return resolve


def _probe(upstream: S3Upstream) -> NotReady:
    async def main() -> NotReady:
        try:
            with pytest.raises(NotReady) as caught:
                await upstream.check_ready("data")
            return caught.value
        finally:
            await upstream.close()

    return asyncio.run(main())


def _chain(resolve: Any) -> S3Upstream:
    upstream = S3Upstream("u", UpstreamConfig(endpoint="http://127.0.0.1:9"))
    upstream._credentials = ChainCredentials("u", resolve)
    return upstream


def test_an_sts_access_denied_is_named_credentials_refused() -> None:
    found = _probe(_chain(_raising(_client_error("AccessDenied", 403, DENIED))))
    assert found.condition == "CredentialsRefused"
    assert "AccessDenied" in found.detail and "sts:AssumeRole" in found.detail


@pytest.mark.parametrize(
    "error",
    [
        _client_error("Throttling", 400, "Rate exceeded"),
        _client_error("IDPCommunicationError", 400, "the identity provider could not be reached"),
        _client_error("InternalFailure", 500),
        RuntimeError("Could not connect to the endpoint URL: https://sts.amazonaws.com/"),
    ],
)
def test_a_busy_or_silent_endpoint_stays_unreachable(error: Exception) -> None:
    assert _probe(_chain(_raising(error))).condition == "Unreachable"


class _DenyingSts(BaseHTTPRequestHandler):
    """STS answering every AssumeRole 403 AccessDenied, as AWS does."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            f"<Type>Sender</Type><Code>AccessDenied</Code><Message>{DENIED}</Message>"
            "</Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
        ).encode()
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def denying_sts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DenyingSts)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_botocores_assume_role_refused_by_sts_is_credentials_refused(denying_sts: None) -> None:
    """The real chain: static keys, a role to assume, STS answering 403 AccessDenied."""
    config = UpstreamConfig(
        endpoint="http://127.0.0.1:9",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        assume_role_arn="arn:aws:iam::123456789012:role/storage",
    )
    found = _probe(_chain(botocore_chain(config, "u")))
    assert found.condition == "CredentialsRefused"
    assert "AccessDenied" in found.detail and "wJalrXUtnFEMI" not in found.detail


def test_readyz_names_it_and_stays_ready_while_another_upstream_answers(tmp_path: Path) -> None:
    refused = _raising(_client_error("AccessDenied", 403, DENIED))
    status, report = readyz_with_other_credentials(refused)
    assert (status, report["ready"]) == (200, True)
    assert report["upstreams"] == {"main/data": "ok", "other/data": "CredentialsRefused"}
    assert "AccessDenied" in report["details"]["other/data"]


def _credential_errors(upstream: str) -> float:
    labels = {"upstream": upstream, "kind": "credentials"}
    return REGISTRY.get_sample_value("s3proxy_upstream_errors_total", labels) or 0.0


def test_clients_see_the_same_503_and_each_failure_is_counted() -> None:
    name = "w16e-refused"
    before = _credential_errors(name)
    refused = ChainCredentials(name, _raising(_client_error("AccessDenied", 403, DENIED)))
    with pytest.raises(S3Error) as caught:
        asyncio.run(refused.current())
    assert caught.value.code is S3ErrorCode.ServiceUnavailable
    assert "AccessDenied" not in caught.value.message  # STS's message is the operator's
    with pytest.raises(S3Error):
        asyncio.run(ChainCredentials(name, lambda: None).current())
    assert _credential_errors(name) == before + 2


def test_a_refused_fetch_answers_the_requests_after_it_without_asking_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request with no keys started a fetch of its own once the last had failed: one STS
    call and one warning per request, for as long as STS refused. Now the failure answers the
    requests of the next second (RETRY_INTERVAL) at once; after it, one fetch asks again."""
    calls: list[int] = []

    def refused() -> Any:
        calls.append(1)
        raise _client_error("AccessDenied", 403, DENIED)

    provider = ChainCredentials("w16e-memo", refused)

    async def main() -> list[str]:
        codes = []
        for _ in range(50):
            try:
                await provider.current()
            except S3Error as error:
                codes.append(type(error).__name__)
        monkeypatch.setattr("s3proxy.backends.credentials.RETRY_INTERVAL", 0.0)
        with pytest.raises(S3Error):
            await provider.current()
        return codes

    with caplog.at_level("WARNING", logger="s3proxy.upstream"):
        codes = asyncio.run(main())
    assert codes == ["CredentialsRefused"] * 50
    assert len(calls) == 2
    warnings = [r for r in caplog.records if "fetching credentials failed" in r.getMessage()]
    assert len(warnings) == 2
