"""Credentials a replica cannot obtain are its own failure (wave 15, E3): a broken secret or
service-account mount on one pod (a web identity token file missing or unreadable, nothing in
the AWS credential chain) showed in /readyz as ``Unreachable``, counted as a shared upstream
outage, so that pod stayed ready while it could serve no one on that upstream. It is now
``CredentialsUnavailable`` and /readyz is 503; a credential endpoint that does not answer stays
a shared outage (the pod stays ready while another upstream answers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from s3proxy.admin_app import create_admin_app
from s3proxy.backends.base import NotReady
from s3proxy.backends.credentials import ChainCredentials, botocore_chain
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import UpstreamConfig, load_settings
from s3proxy.errors import S3ErrorCode
from s3proxy.gateway import Gateway
from s3proxy.readiness import is_ready
from tests.unit.test_w13e_admin import get


def _missing_token() -> Any:
    raise FileNotFoundError(2, "No such file or directory")


def _unreadable_token() -> Any:
    raise PermissionError(13, "Permission denied")


def _endpoint_down() -> Any:
    raise RuntimeError("Could not connect to the endpoint URL: https://sts.amazonaws.com/")


def _probe(resolve: Any) -> NotReady:
    upstream = S3Upstream("u", UpstreamConfig(endpoint="http://127.0.0.1:9"))
    upstream._credentials = ChainCredentials("u", resolve)

    async def main() -> NotReady:
        try:
            with pytest.raises(NotReady) as caught:
                await upstream.check_ready("data")
            return caught.value
        finally:
            await upstream.close()

    return asyncio.run(main())


@pytest.mark.parametrize("resolve", [_missing_token, _unreadable_token, lambda: None])
def test_credentials_this_replica_cannot_read_are_named_as_its_own(resolve: Any) -> None:
    found = _probe(resolve)
    assert found.condition == "CredentialsUnavailable"
    assert "this replica" in found.detail


def test_a_credential_endpoint_that_does_not_answer_stays_unreachable() -> None:
    assert _probe(_endpoint_down).condition == "Unreachable"


def test_the_chain_missing_a_mounted_token_file_is_the_replicas_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """botocore itself, as on EKS with IRSA: the token file the pod should have is not there."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/storage")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(tmp_path / "token"))
    upstream = S3Upstream("u", UpstreamConfig(endpoint="http://127.0.0.1:9"))

    async def main() -> NotReady:
        try:
            with pytest.raises(NotReady) as caught:
                await upstream.check_ready("data")
            return caught.value
        finally:
            await upstream.close()

    assert asyncio.run(main()).condition == "CredentialsUnavailable"


def test_a_profile_whose_credentials_file_is_not_mounted_is_the_replicas_own(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_PROFILE", "storage")
    found = _probe(botocore_chain(UpstreamConfig(endpoint="http://127.0.0.1:9"), "u"))
    assert found.condition == "CredentialsUnavailable"
    assert "storage" in found.detail


def test_the_decision_treats_missing_credentials_as_the_replicas_own() -> None:
    results = {"a/x": ("ok", ""), "b/y": ("CredentialsUnavailable", "")}
    assert not is_ready(results)
    assert is_ready({"a/x": ("ok", ""), "b/y": ("Unreachable", "")})


def readyz_with_other_credentials(fetch: Any) -> tuple[int, dict[str, Any]]:
    """/readyz of a gateway with two upstreams: "main" answers, "other" gets its credentials
    from ``fetch`` (also used by test_w16e_credentials_refused)."""
    env = {
        "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
        "S3PROXY_UPSTREAMS__OTHER__ENDPOINT": "http://127.0.0.1:8334",
        "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
        "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
        "S3PROXY_TENANTS__T2__KEYS": "[{access_key: AKT2, secret_key: t2-secret-key}]",
        "S3PROXY_TENANTS__T2__HOME": "{upstream: other, bucket: data}",
    }
    settings = load_settings(None, env=env)

    async def main() -> tuple[int, dict[str, Any]]:
        gateway = Gateway(settings)

        async def answers(bucket: str) -> None:
            return None

        gateway.backends["main"].check_ready = answers  # type: ignore[method-assign]
        other = gateway.backends["other"]
        assert isinstance(other, S3Upstream)
        other._credentials = ChainCredentials("other", fetch)
        try:
            status, body = await get(create_admin_app(gateway, CollectorRegistry()), "/readyz", [])
        finally:
            await gateway.close()
        return status, json.loads(body)

    return asyncio.run(main())


def test_readyz_is_503_naming_the_credentials(tmp_path: Path) -> None:
    status, report = readyz_with_other_credentials(_missing_token)
    assert (status, report["ready"]) == (503, False)
    assert report["upstreams"] == {"main/data": "ok", "other/data": "CredentialsUnavailable"}
    assert "this replica" in report["details"]["other/data"]


def test_clients_see_the_same_error_as_before() -> None:
    """Only readiness changes: a request signed with no credentials is still 503 / 500."""
    from s3proxy.errors import S3Error

    for resolve, code in ((_missing_token, "ServiceUnavailable"), (lambda: None, "InternalError")):
        with pytest.raises(S3Error) as caught:
            asyncio.run(ChainCredentials("u", resolve).current())
        assert caught.value.code is S3ErrorCode[code]
