"""The keys the gateway signs its upstream requests with: static, or from the AWS credential chain.

https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html — an upstream
without ``access_key``/``secret_key`` takes its credentials where every AWS SDK does, through
botocore's resolver: environment, shared files and profiles (SSO included), container
credentials (ECS task role, EKS pod identity: ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` /
``RELATIVE_URI``), web identity (EKS IRSA), instance metadata. ``assume_role_arn`` then assumes
a role with those (or with the static keys): cross-account storage.

Temporary credentials expire, and botocore refreshes them when they are asked for within 15
minutes of expiry — with a blocking HTTP call, which on the event loop would stall every request
of the worker. So signing never asks botocore on the loop. It signs with the last copy fetched
while that copy has more than :data:`MUST_REFRESH_WITHIN` seconds left, and as soon as botocore
says a refresh is due, one refresh runs in a thread; requests arriving meanwhile keep the
current keys, which are still valid, so none fails at the switch. Only a request that would
otherwise sign with keys about to expire waits — for the thread, never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.metrics import UPSTREAM_ERRORS, labelled

if TYPE_CHECKING:
    from s3proxy.config import UpstreamConfig

log = logging.getLogger("s3proxy.upstream")

MUST_REFRESH_WITHIN = 60.0
"""Seconds before expiry from which a request waits for fresh keys rather than sign with old."""
RETRY_INTERVAL = 1.0
"""Seconds after a failed refresh before the next, while the current keys are still good: a
credential endpoint that is down is not asked again by every request. With no usable keys,
requests in that time get the failed fetch's answer without asking either (``_failure``)."""

NO_CREDENTIALS = (
    "The gateway has no credentials for the storage behind it; its configuration needs attention."
)
CREDENTIALS_UNAVAILABLE = (
    "The gateway could not obtain credentials for the storage behind it. Please retry."
)


LOCAL_FAILURES = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
"""What botocore raises when a file this pod reads is missing or unreadable (a web identity
token, a shared credentials file: a secret or service-account mount); a network failure of a
credential endpoint (STS, container or instance metadata) is a botocore error instead."""


def _own_failure(exc: Exception) -> bool:
    """Whether the chain failed on something of this pod's own: a file (:data:`LOCAL_FAILURES`),
    or the profile ``AWS_PROFILE`` names missing from its files (a credentials file not mounted)."""
    if isinstance(exc, LOCAL_FAILURES):
        return True
    from botocore.exceptions import ProfileNotFound  # botocore raised it, or is installed

    return isinstance(exc, ProfileNotFound)


PASSING = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "IDPCommunicationError"}
)
"""4xx codes a credential endpoint answers when it is busy, or cannot reach the identity
provider that must check a web identity token, not refusing: shared and passing, like an
endpoint that does not answer (``Unreachable``)."""


def refusal(exc: Exception) -> str | None:
    """``code: message`` when a credential endpoint answered and refused the gateway (botocore's
    ClientError with a 4xx status: STS's AccessDenied for a role it may not assume, an expired
    or invalid web identity token), else None (no answer, a 5xx, throttling: not a refusal)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    code = str(error.get("Code") or "")
    if not isinstance(status, int) or not 400 <= status < 500 or code in PASSING:
        return None
    message = str(error.get("Message") or "")
    return f"{code}: {message}" if message else code or f"HTTP {status}"


class CredentialsRefused(S3Error):
    """A credential endpoint (STS, ...) refused to give this gateway credentials for an
    upstream: clients see the same error as before; readiness names it ``CredentialsRefused``
    (what an operator must fix is the role or its trust policy, not the network). Shared by
    every replica, like ``AuthFailure``: the same request is refused to each of them."""

    def __init__(self, code: S3ErrorCode, message: str, detail: str) -> None:
        super().__init__(code, message)
        self.detail = detail


class CredentialsUnavailable(S3Error):
    """No credentials on this replica, for a cause of its own: the chain found none, or a file it
    names could not be read. Clients see the same error as before; readiness
    (:meth:`s3proxy.backends.base.NotReady.unreachable`) takes this replica out of service,
    since another replica, with its mounts intact, may sign."""

    def __init__(self, code: S3ErrorCode, message: str, detail: str) -> None:
        super().__init__(code, message)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SigningKeys:
    access_key: str
    secret_key: str
    token: str | None = None
    """The session token of temporary credentials: sent as ``x-amz-security-token``."""


class UpstreamCredentials(Protocol):
    async def current(self) -> SigningKeys: ...


class StaticCredentials:
    """Keys from the configuration: they never change while the process runs."""

    def __init__(self, keys: SigningKeys) -> None:
        self._keys = keys

    async def current(self) -> SigningKeys:
        return self._keys


class ChainCredentials:
    """botocore credentials (refreshable or not), read only in a worker thread.

    ``resolve`` builds the botocore credentials object (it may read files and call endpoints,
    so it runs in a thread too) and returns None when the chain finds nothing.
    """

    def __init__(self, upstream: str, resolve: Callable[[], Any]) -> None:
        self._upstream = upstream
        self._resolve = resolve
        self._botocore: Any = None
        self._keys: SigningKeys | None = None
        self._refresh: asyncio.Future[SigningKeys] | None = None
        self._refresh_urgent = False
        self._retry_after = 0.0
        self._failure: tuple[float, BaseException] | None = None
        """When (monotonic) and why the last fetch that requests had to wait for failed. For
        :data:`RETRY_INTERVAL` after it, a request with no usable keys gets that answer at once:
        without it every request started a fetch of its own once the last had failed, each an
        STS call (and a warning) while STS refused the role, one after another for as long as
        requests came."""

    async def current(self) -> SigningKeys:
        keys = self._keys
        if keys is not None and not self._refresh_due():
            return keys
        urgent = keys is None or self._expires_within()
        failure = self._failure
        if urgent and failure is not None and time.monotonic() - failure[0] < RETRY_INTERVAL:
            labelled(UPSTREAM_ERRORS, self._upstream, "credentials").inc()
            raise _answer(failure[1]) from failure[1]
        refresh = self._start_refresh(force=urgent)
        if keys is not None and not urgent:
            return keys  # still valid: the refresh, if one started, publishes the next keys
        assert refresh is not None
        try:
            return await asyncio.shield(refresh)
        except Exception as exc:
            labelled(UPSTREAM_ERRORS, self._upstream, "credentials").inc()
            raise _answer(exc) from exc

    def _refresh_due(self) -> bool:
        """botocore's own advisory window (15 minutes before expiry); pure time arithmetic."""
        needed = getattr(self._botocore, "refresh_needed", None)
        return bool(needed()) if needed is not None else False

    def _expires_within(self) -> bool:
        needed = getattr(self._botocore, "refresh_needed", None)
        return bool(needed(MUST_REFRESH_WITHIN)) if needed is not None else False

    def _start_refresh(self, *, force: bool) -> asyncio.Future[SigningKeys] | None:
        """The running refresh, or a new one; None shortly after one that failed."""
        if self._refresh is not None:
            return self._refresh
        if not force and time.monotonic() < self._retry_after:
            return None
        refresh = asyncio.ensure_future(asyncio.to_thread(self._fetch))
        refresh.add_done_callback(self._publish)
        self._refresh = refresh
        self._refresh_urgent = force
        return refresh

    def _publish(self, refresh: asyncio.Future[SigningKeys]) -> None:
        self._refresh = None
        if refresh.cancelled():
            return
        error = refresh.exception()
        self._failure = None
        if error is None and refresh.result() != self._keys:
            self._keys = refresh.result()
            return
        # botocore keeps the old keys when a refresh fails ahead of the deadline
        self._retry_after = time.monotonic() + RETRY_INTERVAL
        if error is not None and self._refresh_urgent:  # requests wait for it: once per fetch
            self._failure = (time.monotonic(), error)
            if not isinstance(error, CredentialsUnavailable):  # that one logged its own line
                log.warning("upstream %s: fetching credentials failed: %r", self._upstream, error)
        elif error is not None and self._keys is not None:
            log.warning(
                "upstream %s: refreshing credentials failed, keeping the current ones: %r",
                self._upstream,
                error,
            )

    def _fetch(self) -> SigningKeys:
        """In a worker thread: resolve the chain once, then let botocore refresh as it sees fit."""
        if self._botocore is None:
            credentials = self._resolve()
            if credentials is None:
                log.error(
                    "upstream %s: no access_key/secret_key configured and the AWS credential "
                    "chain found none (environment, profile, container, web identity, instance)",
                    self._upstream,
                )
                detail = "the AWS credential chain found none on this replica"
                raise CredentialsUnavailable(S3ErrorCode.InternalError, NO_CREDENTIALS, detail)
            self._botocore = credentials
            log.info(
                "upstream %s: credentials from the AWS chain (%s)",
                self._upstream,
                getattr(credentials, "method", "unknown"),
            )
        frozen = self._botocore.get_frozen_credentials()
        return SigningKeys(frozen.access_key, frozen.secret_key, frozen.token or None)


def _answer(error: BaseException) -> S3Error:
    """The client's error for a failed fetch (a new one each time: one failure may answer many
    requests), named for readiness: the replica's own, refused by the endpoint, or neither."""
    code = S3ErrorCode.ServiceUnavailable
    if isinstance(error, CredentialsUnavailable):  # the chain found none
        return CredentialsUnavailable(error.code, error.message, error.detail)
    if isinstance(error, S3Error):
        return S3Error(error.code, error.message)
    if isinstance(error, Exception) and _own_failure(error):
        reason = getattr(error, "strerror", None) or str(error)
        detail = f"credentials could not be read on this replica: {reason}"
        return CredentialsUnavailable(code, CREDENTIALS_UNAVAILABLE, detail)
    refused = refusal(error) if isinstance(error, Exception) else None
    if refused is not None:
        detail = f"the credential endpoint refused the gateway: {refused}"
        return CredentialsRefused(code, CREDENTIALS_UNAVAILABLE, detail)
    return S3Error(code, CREDENTIALS_UNAVAILABLE)


def botocore_chain(config: UpstreamConfig, upstream: str) -> Callable[[], Any]:
    """The resolver for ``config``: botocore's default chain, or the static keys, then the role."""

    def resolve() -> Any:
        import botocore.credentials
        import botocore.session

        session = botocore.session.get_session()
        if not session.get_config_variable("region"):
            session.set_config_variable("region", config.region)
        if config.access_key is not None and config.secret_key is not None:
            source: Any = botocore.credentials.Credentials(
                config.access_key.get_secret_value(),
                config.secret_key.get_secret_value(),
                method="config",
            )
        else:
            source = session.get_credentials()
        if source is None or config.assume_role_arn is None:
            return source
        extra: dict[str, str] = {"RoleSessionName": f"s3proxy-{upstream}"[:64]}
        if config.assume_role_external_id is not None:
            extra["ExternalId"] = config.assume_role_external_id
        fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
            client_creator=session.create_client,
            source_credentials=source,
            role_arn=config.assume_role_arn,
            extra_args=extra,
        )
        return botocore.credentials.DeferredRefreshableCredentials(
            method="assume-role", refresh_using=fetcher.fetch_credentials
        )

    return resolve


def upstream_credentials(name: str, config: UpstreamConfig) -> UpstreamCredentials:
    """Static keys when configured (and no role to assume), else the chain."""
    if (
        config.access_key is not None
        and config.secret_key is not None
        and config.assume_role_arn is None
    ):
        return StaticCredentials(
            SigningKeys(config.access_key.get_secret_value(), config.secret_key.get_secret_value())
        )
    return ChainCredentials(name, botocore_chain(config, name))
