"""What a handler gets: the parsed request, the authenticated caller's storage, the body source."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from s3proxy.auth.dispatch import Verified
from s3proxy.backends.mapped import MappedStorage
from s3proxy.body import Receive
from s3proxy.config import ServerConfig
from s3proxy.grants import Grants
from s3proxy.operations import Operation
from s3proxy.owner import Owner
from s3proxy.quick_init import quick_init
from s3proxy.request import S3Request
from s3proxy.responses import S3Response


@quick_init
@dataclass(frozen=True, slots=True)
class RequestContext:
    request: S3Request
    operation: Operation
    tenant: str
    owner: Owner
    auth: Verified
    storage: MappedStorage
    receive: Receive
    request_id: str
    server: ServerConfig
    grants: Grants | None = None
    """The key's grants when it is a scoped key (s3proxy.grants); None: the whole tenant."""
    source_storage: MappedStorage | None = None
    """A copy's source read from another tenant's storage, whose bucket ACL grants the caller
    READ (s3proxy.granted_reads); None: the source is the caller's, as everything else is."""

    @property
    def secure_transport(self) -> bool:
        """Whether a customer key (SSE-C) may come with this request: over TLS, or over HTTP
        when the operator says TLS ends in front of the proxy (``server.sse_c_over_http``)."""
        return self.request.secure or self.server.sse_c_over_http

    @property
    def secret(self) -> str:
        """The server's HMAC secret (always set at start-up; random when not configured)."""
        assert self.server.secret is not None
        return self.server.secret.get_secret_value()


Handler = Callable[[RequestContext], Awaitable[S3Response]]
