"""The ASGI applications: the S3 endpoint and the admin endpoint (health, readiness).

Request flow, one direction only: parse → resolve operation → authenticate → handler →
tenant storage → backend. The S3 app is plain ASGI (no per-request framework objects: Hypercorn
alone costs ~150 µs a request). Configuration that SIGHUP may change lives in one immutable
:class:`~s3proxy.gateway.Runtime` that :meth:`~s3proxy.gateway.Gateway.reload` swaps whole, so a
request sees one config only (:mod:`s3proxy.gateway`, re-exported here).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from s3proxy import anonymous, copy_charge, early_answer, expensive, granted_reads, host_id, metrics
from s3proxy.auth.dispatch import authenticate
from s3proxy.auth.payload import check_streaming_body
from s3proxy.auth.sigv2 import VerifiedSigV2
from s3proxy.body import ClientDisconnected, Receive, TimedReceive
from s3proxy.config import Settings
from s3proxy.connection_owners import used_by as connection_used_by
from s3proxy.copy_charge import COPIES, CopyMeter
from s3proxy.cors_requests import add_response_headers, preflight
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.gateway import Gateway, Runtime
from s3proxy.grants import check_request
from s3proxy.handlers import HANDLERS
from s3proxy.handlers.context import Handler, RequestContext
from s3proxy.header_policy import check_request_headers
from s3proxy.http_errors import answered_below
from s3proxy.limits import CURRENT_TENANT, Gate, Metered, Reservation, declared_bytes
from s3proxy.logs import timestamp, write_access_line
from s3proxy.operations import REFUSALS, Operation, refusal, resolve
from s3proxy.owner import check_expected_owner
from s3proxy.request import S3Request, new_request_id, parse_request
from s3proxy.responses import ResponseAborted, S3Response, Send, send_response, xml_response
from s3proxy.xmlcodec import error_xml

log = logging.getLogger("s3proxy")
access_log = logging.getLogger("s3proxy.access")

__all__ = ["Gateway", "Runtime", "S3App"]


class S3App:
    """The S3 endpoint as a pure ASGI callable."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.in_flight = 0
        """Requests of this process being served: what the drain reports every second."""

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        metrics.IN_FLIGHT.inc()
        self.in_flight += 1
        server = self.gateway.runtime.settings.server
        body = TimedReceive(receive, server.body_idle_timeout, server.body_min_rate)
        try:
            await self._serve(scope, body, send)
        finally:
            body.finish()
            if isinstance(body.meter, Reservation):  # bytes reserved and not moved: back
                body.meter.release()
            self.in_flight -= 1
            metrics.IN_FLIGHT.dec()

    async def _serve(self, scope: dict[str, Any], body: TimedReceive, send: Send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        runtime = self.gateway.runtime
        server = runtime.settings.server
        entry: dict[str, Any] = {"time": timestamp(), "request_id": request_id}
        request: S3Request | None = None
        gate: Gate | None = None
        try:
            request = parse_request(scope, server.virtual_host_domains)
            entry["bucket"] = request.bucket
            if request.key is not None and access_log.isEnabledFor(logging.INFO):  # log only
                entry["key"] = _logged_key(request.key, runtime.settings)
            agent = request.header("user-agent")
            if agent is not None:
                entry["user_agent"] = agent[:200]
            operation = resolve(request)
            entry["operation"] = operation.value
            if request.method == "OPTIONS":  # CORS preflight: never signed (s3proxy.cors_requests)
                entry["operation"] = "OptionsPreflight"
                response = await preflight(request, runtime.storages, runtime.keys)
            else:
                response, gate = await self._dispatch(
                    request, operation, runtime, body, entry, request_id
                )
        except S3Error as error:
            response = self._error(error, request, request_id)
            entry["error"] = error.code.name
        except ClientDisconnected:
            entry.update(status=499, error="ClientDisconnected")
            self._log(entry, started, body.bytes_in, answered_below(scope, entry) or 0)
            return
        except asyncio.CancelledError:  # the server's shutdown timeout passed: see _cut
            await self._cut(scope, send, entry, started, body.bytes_in, request_id)
            return
        except Exception:
            log.exception("request %s failed", request_id)
            response = self._error(S3Error(S3ErrorCode.InternalError), request, request_id)
            entry["error"] = "InternalError"
        # Whose connection this is now (s3proxy.connection_owners): an authenticated
        # requester's only; an anonymous request's "tenant" is the bucket owner, never its own.
        if "tenant" in entry and entry.get("auth") != "anonymous":
            connection_used_by(scope.get("client"), entry["tenant"])
        if request is not None and "origin" in request.header_map and request.method != "OPTIONS":
            # The bucket's tenant: a read granted to another tenant is the owner's bucket's
            # (its rules, not the signer's: none); None: refused before authentication ended.
            tenant = entry.get("bucket_owner") or entry.get("tenant")
            await add_response_headers(response, request, runtime.storages, runtime.keys, tenant)
        entry["status"] = response.status
        extra_headers = [(b"x-amz-request-id", request_id.encode()), host_id.HEADER]
        if response.status >= 400 and not body.done and _has_body(scope):
            # Refused before its body was read (a client that sent no Expect: 100-continue, or
            # that stopped waiting for the 100, sends it anyway): the connection cannot be
            # reused, and saying so lets the client read the error instead of meeting a silently
            # closed socket on its next call.
            extra_headers.append((b"connection", b"close"))
        elif self.gateway.draining:  # clients move to another replica instead of racing the close
            extra_headers.append((b"connection", b"close"))
        bytes_out = 0
        try:
            bytes_out = await send_response(
                send, response, head=scope["method"] == "HEAD", extra_headers=extra_headers
            )
        except ResponseAborted as aborted:
            bytes_out = aborted.sent
            if aborted.client_gone:  # what the client got: the bytes before it left
                entry.update(status=499, error="ClientDisconnected")
                bytes_out = answered_below(scope, entry) or bytes_out
            else:  # the body failed after the head went out: the client sees a cut transfer
                entry["error"] = f"aborted: {type(aborted.__cause__).__name__}"
                raise
        except asyncio.CancelledError:
            entry["error"] = "Cancelled"
            bytes_out = response.bytes_sent
            raise
        finally:
            try:
                if response.close is not None:  # (an early answer's: its work's end)
                    await response.close()
            finally:
                if gate is not None:
                    gate.leave()
            self._log(entry, started, body.bytes_in, bytes_out)

    async def _dispatch(
        self,
        request: S3Request,
        operation: Operation,
        runtime: Runtime,
        receive: TimedReceive,
        entry: dict[str, Any],
        request_id: str,
    ) -> tuple[S3Response, Gate]:
        server = runtime.settings.server
        if anonymous.is_anonymous(request):  # no credentials at all: only what an ACL grants
            response, gate = await anonymous.serve(
                request, operation, runtime, receive, entry, request_id
            )
            _metered(response, receive, request.method)  # the owner's anonymous byte rate
            return response, gate
        auth = authenticate(
            request,
            runtime.lookup_secret,
            datetime.now(UTC),
            max_skew=server.max_skew_seconds,
            region=server.region if server.strict_region else None,
            allow_v2=server.signature_v2,
        )
        tenant = runtime.keys[auth.access_key][0]
        entry["tenant"] = tenant
        if operation in REFUSALS:  # routing refusals first: before any header or owner check
            raise refusal(request, operation)
        grants = runtime.grants.get(auth.access_key)
        if grants is not None:  # a scoped key: refused here, before any body or upstream call
            check_request(grants, request, operation)
        owner = runtime.owners[tenant]
        check_expected_owner(request, operation, owner.id)
        check_request_headers(
            request, operation, ignore_unknown=server.ignore_unknown_headers
        )  # every x-amz-* header acted on or refused, before any body is read
        check_streaming_body(request, operation, auth.payload_hash)
        presigned = "X-Amz-Signature" in request.query or "Signature" in request.query
        signature = "sigv2" if isinstance(auth, VerifiedSigV2) else "sigv4"
        entry["auth"] = f"presigned-{signature}" if presigned else signature
        if request.method in ("PUT", "POST"):
            entry["payload"] = _payload_mode(auth.payload_hash)
            checksum = request.header("x-amz-trailer") or next(
                (n for n, _ in request.headers if n.startswith("x-amz-checksum-")), None
            )
            if checksum is not None:
                entry["checksum"] = checksum
        handler = HANDLERS.get(operation)
        if handler is None:
            raise refusal(request, operation)
        context = RequestContext(
            request=request,
            operation=operation,
            tenant=tenant,
            auth=auth,
            owner=owner,
            storage=runtime.storages[tenant],
            receive=receive,
            request_id=request_id,
            server=server,
            grants=grants,
        )
        # The tenant's rate limits, then one of its slots (held until the response is sent:
        # _serve releases it); its upstream calls use its own connection pool: s3proxy.limits.
        admission = self.gateway.admission
        rates = admission.rates.get(tenant)
        if rates is not None:
            declared = declared_bytes(
                request.method, request.header("content-length"), request.header("range")
            )
            # or 503, no body read; the bytes it declared are taken (limits.Reservation)
            receive.meter = await rates.wait_admitted(admission.max_wait, operation, declared)
        copied = None  # what a copy's bytes are charged to (s3proxy.copy_charge)
        if operation in COPIES and rates is not None and receive.meter is not None:
            assert rates.bytes is not None  # a meter only with a byte limit
            copied = CopyMeter(receive.meter, rates.bytes, tenant, admission.max_wait)
        copy_charge.CURRENT.set(copied)
        gate = admission.gate(tenant)
        await gate.enter(admission.max_wait)
        CURRENT_TENANT.set(tenant)
        expensive.CURRENT.set((admission.expensive[tenant], admission.max_wait))
        try:
            served = _served(handler, context, runtime, entry)
            if operation in early_answer.OPERATIONS:  # S3's 200 while a copy or Complete works
                render = functools.partial(self._error, request=request, request_id=request_id)
                delay = server.early_answer_seconds
                response = await early_answer.served(served, entry, delay, render)
            else:
                response = await served
        except BaseException:
            gate.leave()
            raise
        _metered(response, receive, request.method)
        return response, gate

    @staticmethod
    def _error(error: S3Error, request: S3Request | None, request_id: str) -> S3Response:
        if request is not None:
            if error.code is S3ErrorCode.NoSuchKey and request.key is not None:
                error.fields.setdefault("Key", request.key)
            elif error.code is S3ErrorCode.NoSuchBucket and request.bucket is not None:
                error.fields.setdefault("BucketName", request.bucket)
        headers = list(error.headers.items())
        if error.code is S3ErrorCode.NotModified:
            return S3Response(status=304, headers=headers)
        response = xml_response(error_xml(error, request_id), error.status)
        response.headers.extend(headers)
        if request is not None and request.method == "HEAD":
            response.body = b""
        return response

    async def _cut(
        self,
        scope: Mapping[str, Any],
        send: Send,
        entry: dict[str, Any],
        started: float,
        bytes_in: int,
        request_id: str,
    ) -> None:
        """A request the shutdown timeout cut before its answer: 503 ServiceUnavailable, which
        SDKs retry (on another replica), under the request id of its access line, and the
        connection closed. Left to the server, uvicorn answered 500 InternalError under an id
        no log line had, and logged the cancellation as an application error."""
        entry.update(status=503, error="Cancelled")
        error = S3Error(
            S3ErrorCode.ServiceUnavailable, "The server is shutting down. Please retry."
        )
        response = xml_response(error_xml(error, request_id), error.status)
        headers = [(b"x-amz-request-id", request_id.encode()), host_id.HEADER]
        headers.append((b"connection", b"close"))
        sent = 0
        try:
            sent = await send_response(
                send, response, head=scope["method"] == "HEAD", extra_headers=headers
            )
        except Exception:  # the connection is gone already: the line says what happened
            pass
        finally:
            self._log(entry, started, bytes_in, sent)

    @staticmethod
    def _log(entry: dict[str, Any], started: float, bytes_in: int, bytes_out: int) -> None:
        seconds = time.perf_counter() - started
        metrics.observe_request(
            entry.get("operation", "Unknown"),
            entry.get("status", 0),
            entry.get("tenant", "-"),
            seconds,
            bytes_in,
            bytes_out,
            entry.get("error"),
        )
        if access_log.isEnabledFor(logging.INFO):
            entry["bytes_in"] = bytes_in
            entry["bytes_out"] = bytes_out
            entry["duration_ms"] = round(seconds * 1000, 3)
            write_access_line(entry)


async def _served(
    handler: Handler, context: RequestContext, runtime: Runtime, entry: dict[str, Any]
) -> S3Response:
    try:
        return await handler(context)
    except S3Error as error:  # not the caller's bucket? Another tenant may grant it
        copy_charge.refund_refused(error)  # a refused copy's bytes given back
        with copy_charge.refunding():  # and a granted copy's (copied again there)
            return await granted_reads.serve(context, error, runtime, entry)


def _metered(response: S3Response, receive: TimedReceive, method: str) -> None:
    """Charge ``response``'s body to the request's byte meter, if it has one: a bytes body at
    once, a streamed one as it is sent."""
    meter = receive.meter
    if meter is not None:
        if isinstance(response.body, bytes):
            if method != "HEAD":  # a HEAD's body is never sent
                meter.charge(len(response.body))
        else:
            response.body = Metered(response.body, meter)


def _logged_key(key: str, settings: Settings) -> str:
    """The object key as the access log shows it: as sent, or with ``logging.access_log_keys:
    hash`` an HMAC-SHA256 under the server secret (128 bits, hex), the same on every replica
    sharing the secret, so one key's requests can be followed without the log revealing it."""
    if settings.logging.access_log_keys == "plain":
        return key
    secret = settings.server.secret
    material = secret.get_secret_value().encode() if secret is not None else b""
    return hmac.new(material, key.encode("utf-8", "surrogateescape"), "sha256").hexdigest()[:32]


def _has_body(scope: Mapping[str, Any]) -> bool:
    """Whether the request announces a body (a non-zero Content-Length, or chunked framing)."""
    for name, value in scope["headers"]:
        lower = name.lower()
        if lower == b"transfer-encoding" or (lower == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _payload_mode(payload_hash: str) -> str:
    """How the body was protected, for the access log: "sha256" for a literal hash."""
    return "sha256" if len(payload_hash) == 64 and "-" not in payload_hash else payload_hash


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
