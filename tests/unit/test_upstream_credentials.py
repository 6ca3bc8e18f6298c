"""Upstream credentials: static keys, the AWS chain, refresh off the event loop, assume-role config.

The refresh tests drive botocore's own RefreshableCredentials with a clock and a refresh
function of the test's, so the windows are botocore's (15 minutes advisory) and nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from aiohttp import web
from botocore.credentials import Credentials, RefreshableCredentials
from pydantic import ValidationError

from s3proxy.backends.credentials import (
    MUST_REFRESH_WITHIN,
    ChainCredentials,
    SigningKeys,
    StaticCredentials,
    botocore_chain,
    upstream_credentials,
)
from s3proxy.backends.s3 import S3Upstream
from s3proxy.cli import main
from s3proxy.config import UpstreamConfig
from s3proxy.config.loading import quick_start_settings
from s3proxy.errors import S3Error, S3ErrorCode

ENDPOINT = "http://127.0.0.1:9"
ROLE = "arn:aws:iam::123456789012:role/storage"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Rotating:
    """A credential source handing out key-1, key-2, … each valid for ``lifetime``."""

    def __init__(self, clock: Clock, lifetime: timedelta) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.gate.set()
        self.fail = False

    def metadata(self) -> dict[str, str]:
        self.entered.set()
        self.gate.wait(10)
        if self.fail:
            raise ConnectionError("credential endpoint down")
        self.calls += 1
        expiry = self.clock.now + self.lifetime
        return {
            "access_key": f"key-{self.calls}",
            "secret_key": f"secret-{self.calls}",
            "token": f"token-{self.calls}",
            "expiry_time": expiry.isoformat(),
        }

    def credentials(self) -> RefreshableCredentials:
        first = self.metadata()
        return RefreshableCredentials(
            first["access_key"],
            first["secret_key"],
            first["token"],
            datetime.fromisoformat(first["expiry_time"]),
            refresh_using=self.metadata,
            method="test",
            time_fetcher=self.clock,
        )


def chain(source: Rotating) -> ChainCredentials:
    return ChainCredentials("test", source.credentials)


def test_static_keys_without_a_role_are_used_as_they_are() -> None:
    config = UpstreamConfig(endpoint=ENDPOINT, access_key="ak", secret_key="sk")
    provider = upstream_credentials("u", config)
    assert isinstance(provider, StaticCredentials)
    assert asyncio.run(provider.current()) == SigningKeys("ak", "sk", None)


def test_no_keys_means_the_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Environment credentials, read by botocore's resolver (the chain's first provider)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    provider = upstream_credentials("u", UpstreamConfig(endpoint=ENDPOINT))
    assert isinstance(provider, ChainCredentials)
    assert asyncio.run(provider.current()) == SigningKeys(
        "AKIAENVIRONMENT", "env-secret", "env-token"
    )


def test_shared_profile_is_part_of_the_chain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    shared = tmp_path / "credentials"
    shared.write_text("[storage]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = ps\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "storage")
    provider = upstream_credentials("u", UpstreamConfig(endpoint=ENDPOINT))
    assert asyncio.run(provider.current()) == SigningKeys("AKIAPROFILE", "ps", None)


def test_nothing_in_the_chain_is_a_500_naming_the_configuration() -> None:
    provider = ChainCredentials("u", lambda: None)
    with pytest.raises(S3Error) as caught:
        asyncio.run(provider.current())
    assert caught.value.code is S3ErrorCode.InternalError
    assert "no credentials" in caught.value.message


def test_a_failing_first_fetch_is_a_503() -> None:
    def broken() -> Any:
        raise ConnectionError("no route to the credential endpoint")

    with pytest.raises(S3Error) as caught:
        asyncio.run(ChainCredentials("u", broken).current())
    assert caught.value.code is S3ErrorCode.ServiceUnavailable
    assert "could not obtain credentials" in caught.value.message


def test_plain_credentials_are_fetched_once() -> None:
    calls: list[int] = []

    def resolve() -> Credentials:
        calls.append(1)
        return Credentials("ak", "sk")

    provider = ChainCredentials("u", resolve)

    async def go() -> list[SigningKeys]:
        return [await provider.current() for _ in range(5)]

    assert asyncio.run(go()) == [SigningKeys("ak", "sk", None)] * 5
    assert len(calls) == 1


def test_refresh_runs_off_the_loop_and_requests_keep_valid_keys_meanwhile() -> None:
    """In botocore's advisory window the refresh runs in a thread while requests go on
    signing with the current keys (still valid); once it is done, the new keys are used."""
    clock = Clock()
    source = Rotating(clock, timedelta(hours=1))
    provider = chain(source)

    async def go() -> None:
        assert (await provider.current()).access_key == "key-1"
        clock.now += timedelta(minutes=50)  # 10 minutes left: refresh due, keys still good
        source.gate.clear()  # the credential endpoint is slow: the refresh blocks its thread
        source.entered.clear()
        during = [await asyncio.wait_for(provider.current(), 1) for _ in range(20)]
        assert {keys.access_key for keys in during} == {"key-1"}
        assert await asyncio.to_thread(source.entered.wait, 5)  # the refresh is in flight
        assert source.calls == 1  # one refresh in flight, not one per request
        source.gate.set()
        while (await provider.current()).access_key == "key-1":
            await asyncio.sleep(0.01)  # yields to the loop until the thread publishes
        assert await provider.current() == SigningKeys("key-2", "secret-2", "token-2")

    asyncio.run(go())
    assert source.calls == 2


def test_keys_about_to_expire_wait_for_the_refresh() -> None:
    clock = Clock()
    source = Rotating(clock, timedelta(hours=1))
    provider = chain(source)

    async def go() -> None:
        await provider.current()
        clock.now += timedelta(hours=1) - timedelta(seconds=MUST_REFRESH_WITHIN / 2)
        results = await asyncio.gather(*(provider.current() for _ in range(10)))
        assert {keys.access_key for keys in results} == {"key-2"}

    asyncio.run(go())
    assert source.calls == 2


def test_a_failed_refresh_keeps_the_current_keys_and_is_retried() -> None:
    clock = Clock()
    source = Rotating(clock, timedelta(hours=1))
    provider = chain(source)

    async def go() -> None:
        await provider.current()
        clock.now += timedelta(minutes=55)
        source.fail = True
        for _ in range(5):
            assert (await provider.current()).access_key == "key-1"
            await asyncio.sleep(0.01)
        source.fail = False
        clock.now += timedelta(minutes=4, seconds=30)  # 30 s left: must wait, and succeeds
        assert (await provider.current()).access_key == "key-2"

    asyncio.run(go())


def test_expired_keys_and_a_dead_endpoint_are_a_503() -> None:
    clock = Clock()
    source = Rotating(clock, timedelta(hours=1))
    provider = chain(source)

    async def go() -> None:
        await provider.current()
        clock.now += timedelta(hours=2)
        source.fail = True
        with pytest.raises(S3Error) as caught:
            await provider.current()
        assert caught.value.code is S3ErrorCode.ServiceUnavailable

    asyncio.run(go())


# -- configuration -----------------------------------------------------------------------------


def test_keys_are_optional_but_go_together() -> None:
    assert UpstreamConfig(endpoint=ENDPOINT).access_key is None
    for one in ({"access_key": "ak"}, {"secret_key": "sk"}):
        with pytest.raises(ValidationError, match="access_key and secret_key go together"):
            UpstreamConfig.model_validate({"endpoint": ENDPOINT, **one})


def test_assume_role_arn_is_checked() -> None:
    config = UpstreamConfig(endpoint=ENDPOINT, assume_role_arn=ROLE, assume_role_external_id="x1")
    assert config.assume_role_arn == ROLE
    with pytest.raises(ValidationError, match="assume_role_arn"):
        UpstreamConfig(endpoint=ENDPOINT, assume_role_arn="storage")
    with pytest.raises(ValidationError, match="needs assume_role_arn"):
        UpstreamConfig(endpoint=ENDPOINT, assume_role_external_id="x1")


def test_static_keys_with_a_role_assume_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static keys are then only the source credentials of AssumeRole: the chain object is
    botocore's deferred, refreshable assume-role credentials (fetched on first use)."""
    config = UpstreamConfig(
        endpoint=ENDPOINT, access_key="ak", secret_key="sk", assume_role_arn=ROLE
    )
    assert isinstance(upstream_credentials("u", config), ChainCredentials)
    credentials = botocore_chain(config, "u")()
    assert credentials.method == "assume-role"
    assert credentials.refresh_needed()  # nothing fetched yet: the first use fetches


def test_check_config_does_not_demand_upstream_keys(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "s3proxy.yaml"
    config.write_text(
        "server: {secret: check-config-secret-0123456789abcdef}\n"
        "upstreams:\n"
        f"  main: {{endpoint: 'https://s3.eu-west-1.amazonaws.com', assume_role_arn: '{ROLE}'}}\n"
        "tenants:\n"
        "  t: {keys: [{access_key: AKT0000001, secret_key: t-secret-key}],"
        " home: {upstream: main, bucket: data}}\n"
    )
    assert main(["check-config", str(config)]) == 0
    effective = yaml.safe_load(capsys.readouterr().out)
    assert effective["upstreams"]["main"]["access_key"] is None
    assert effective["upstreams"]["main"]["assume_role_arn"] == ROLE


def test_quick_start_without_upstream_keys_uses_the_chain() -> None:
    env = {"S3PROXY_ACCESS_KEY": "AKQUICK0001", "S3PROXY_SECRET_KEY": "quick-secret-key"}
    settings = quick_start_settings("http://127.0.0.1:8333", "data", env)
    upstream = settings.upstreams["default"]
    assert isinstance(upstream, UpstreamConfig)
    assert (upstream.access_key, upstream.secret_key) == (None, None)


# -- on the wire ---------------------------------------------------------------------------------


def _headers_sent(config: dict[str, Any]) -> dict[str, str]:
    """The headers of the one request an S3Upstream with ``config`` sends (HeadBucket)."""
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        return web.Response(status=200)

    async def go() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
        backend = S3Upstream("u", UpstreamConfig.model_validate({"endpoint": endpoint, **config}))
        try:
            await backend.check_ready("bucket")
        finally:
            await backend.close()
            await runner.cleanup()

    asyncio.run(go())
    [headers] = seen
    return headers


def test_temporary_credentials_send_their_token_signed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The session token goes out as x-amz-security-token, covered by the signature."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIATEMPORARY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "temporary-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "the-session-token")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    headers = _headers_sent({})
    assert headers["x-amz-security-token"] == "the-session-token"
    authorization = headers["Authorization"]
    assert "Credential=ASIATEMPORARY/" in authorization
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    assert "x-amz-security-token" in signed


def test_static_keys_send_no_token() -> None:
    headers = _headers_sent({"access_key": "ak", "secret_key": "sk"})
    assert "x-amz-security-token" not in {name.lower() for name in headers}
    assert "Credential=ak/" in headers["Authorization"]
