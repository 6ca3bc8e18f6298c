"""The process-wide state behind the S3 app: upstream connection pools and the runtime config.

Split from :mod:`s3proxy.app` (which keeps the request path) so that the configuration side —
what SIGHUP rebuilds and readiness probes — reads on its own. Configuration that SIGHUP may
change lives in one immutable :class:`Runtime` that :meth:`Gateway.reload` swaps whole, so a
request sees one config only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from s3proxy import readiness
from s3proxy.backends import bucket_cache, usage_records
from s3proxy.backends.base import Backend, NotReady
from s3proxy.backends.key_encoding import KeyEncodings
from s3proxy.backends.mapped import MappedStorage
from s3proxy.backends.s3 import S3Upstream
from s3proxy.config import LocalStoreConfig, Settings, UpstreamConfig
from s3proxy.config.models import ServerLimits, TenantLimits
from s3proxy.errors import S3Error
from s3proxy.grants import Grant, Grants
from s3proxy.layout import shard_digits
from s3proxy.limits import Admission
from s3proxy.owner import Owner, shown_owner_id
from s3proxy.quotas import policy_for

RESTART_ONLY = (
    "host",
    "port",
    "admin_host",
    "admin_port",
    "tls_cert",
    "tls_key",
    "workers",
    "engine",
    "event_loop",
    "shutdown_timeout",
    "keep_alive_timeout",
    "max_client_connections",
    "max_connections_per_client",
    "admin_max_connections",
    "admin_max_connections_per_client",
)
"""``server`` settings the listeners and processes take at their start: a reload keeps them
(:func:`reloaded`), and s3proxy.server.restart_only says which it kept."""


def reloaded(current: Settings, settings: Settings) -> Settings:
    """``settings`` as a reload takes them over ``current``: the server secret generated at
    start-up kept when the file names none, and :data:`RESTART_ONLY` kept as they run (a
    worker started after the reload, a dead one's replacement, took the file's engine, event
    loop and timeouts beside workers on the old ones, and a second reload of the same file
    warned no more); ValueError when they change what only a restart may change: the
    upstreams and the layout."""
    kept = {name: getattr(current.server, name) for name in RESTART_ONLY}
    if settings.server.secret is None:  # keep the secret generated at start-up
        kept["secret"] = current.server.secret
    server = settings.server.model_copy(update=kept)
    settings = settings.model_copy(update={"server": server})
    if settings.upstreams != current.upstreams:
        raise ValueError("upstreams changed: restart the proxy to apply upstream changes")
    if settings.layout != current.layout:
        raise ValueError(
            "layout changed: the shard count and key encoding cannot change on a running proxy"
        )
    return settings


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a request needs from the configuration, swapped whole on reload."""

    settings: Settings
    storages: Mapping[str, MappedStorage]
    keys: Mapping[str, tuple[str, str]]
    """access key → (tenant, secret)."""
    owners: Mapping[str, Owner]
    """tenant → the owner its listings show and bucket owner conditions are checked against."""
    grants: Mapping[str, Grants]
    """access key → its grants, for scoped keys only (a key absent here may do everything)."""

    def lookup_secret(self, access_key: str) -> str | None:
        entry = self.keys.get(access_key)
        return entry[1] if entry is not None else None


class Gateway:
    """The process-wide state: upstream connection pools and the current runtime config."""

    def __init__(self, settings: Settings) -> None:
        self.backends: dict[str, Backend] = {
            name: _open_backend(name, upstream) for name, upstream in settings.upstreams.items()
        }
        self.admission = Admission({}, settings.server.limits.max_wait)
        self.runtime = self._build(settings)
        self.draining = False
        """Set at SIGTERM: readiness fails from then on, whatever the upstreams say."""

    def _build(self, settings: Settings) -> Runtime:
        digits = shard_digits(settings.layout.shards)
        bucket_cache.configure(settings.server.bucket_cache_seconds)
        usage_records.configure_from(settings.server)
        layouts = settings.tenant_layouts()
        explicit = frozenset(bucket for layout in layouts.values() for bucket in layout.buckets)
        encodings = KeyEncodings(
            self.backends, settings.layout.key_encoding, settings.key_encoding_defaults()
        )
        storages = {
            name: MappedStorage(
                layout,
                self.backends,
                digits,
                explicit - set(layout.buckets),
                encodings,
                policy_for(layout, settings.tenants[name]),
            )
            for name, layout in layouts.items()
        }
        keys = {
            pair.access_key: (name, pair.secret_key.get_secret_value())
            for name, tenant in settings.tenants.items()
            for pair in tenant.keys
        }
        secret = settings.server.secret
        owners = {
            name: Owner(
                number,
                name,
                shown_owner_id(
                    name,
                    settings.tenants[name].owner_id,
                    secret.get_secret_value() if secret is not None else None,
                ),
            )
            for name, number in settings.owner_ids().items()
        }
        default = settings.server.limits
        previous = self.runtime.storages if hasattr(self, "runtime") else {}
        for name, storage in storages.items():
            if name in previous:  # a reload: creations in flight keep their turns
                storage.buckets.keep_creation_turns(previous[name].buckets)
            cap = settings.tenants[name].limits.max_buckets
            storage.buckets.max_buckets = default.max_buckets if cap is None else cap
            storage.buckets.creation_wait = default.max_wait
        self.admission.configure(
            {
                name: tenant.limits.max_concurrent_requests or default.max_concurrent_requests
                for name, tenant in settings.tenants.items()
            },
            default.max_wait,
            {name: _rates(tenant.limits, default) for name, tenant in settings.tenants.items()},
            {
                name: tenant.limits.max_concurrent_expensive or default.max_concurrent_expensive
                for name, tenant in settings.tenants.items()
            },
        )
        grants = {
            pair.access_key: Grants(
                tuple(Grant.build(g.actions, g.buckets, g.prefixes) for g in pair.allow)
            )
            for tenant in settings.tenants.values()
            for pair in tenant.keys
            if pair.allow is not None
        }
        return Runtime(
            settings=settings, storages=storages, keys=keys, owners=owners, grants=grants
        )

    def reload(self, settings: Settings) -> None:
        """Swap tenants, keys and mappings. Upstreams and layout need a restart: refuse."""
        self.runtime = self._build(reloaded(self.runtime.settings, settings))

    async def close(self) -> None:
        await usage_records.close_all()  # quota usage changes not yet published
        for backend in self.backends.values():
            await backend.close()

    async def check_ready(self, timeout: float | None = None) -> dict[str, tuple[str, str]]:
        """Probe every upstream bucket the configuration uses: per "upstream/bucket", "ok" or
        the condition an operator must fix (NoSuchBucket, AuthFailure, Unreachable, timeout …),
        with a detail. Each has ``timeout`` seconds (server.readiness_timeout by default)."""
        if timeout is None:
            timeout = self.runtime.settings.server.readiness_timeout
        targets: set[tuple[str, str]] = set()
        for storage in self.runtime.storages.values():
            tenant = storage.tenant
            roots = [*tenant.buckets.values(), *([tenant.home] if tenant.home else [])]
            targets.update((root.upstream, root.bucket) for root in roots)

        async def probe(upstream: str, bucket: str) -> tuple[str, str]:
            try:
                await asyncio.wait_for(self.backends[upstream].check_ready(bucket), timeout)
            except NotReady as not_ready:
                return not_ready.condition, not_ready.detail
            except S3Error as error:
                return error.code.name, error.message
            except TimeoutError:
                return "timeout", f"no answer within {timeout:g} s"
            return "ok", ""

        ordered = sorted(targets)
        results = await asyncio.gather(*(probe(u, b) for u, b in ordered))
        return {f"{u}/{b}": result for (u, b), result in zip(ordered, results, strict=True)}

    def is_ready(self, results: Mapping[str, tuple[str, str]]) -> bool:
        """Whether :meth:`check_ready`'s ``results`` make this replica ready (s3proxy.readiness:
        one upstream's outage is not the replica's own; a local store's is)."""
        settings = self.runtime.settings
        own = [n for n, up in settings.upstreams.items() if isinstance(up, LocalStoreConfig)]
        return readiness.is_ready(results, settings.server.readiness_requires, own)


def _open_backend(name: str, config: UpstreamConfig | LocalStoreConfig) -> Backend:
    if isinstance(config, LocalStoreConfig):
        from s3proxy.backends.local import LocalStore  # SQLite and files: only when configured

        return LocalStore(name, config.path)
    return S3Upstream(name, config)


def _rates(limits: TenantLimits, default: ServerLimits) -> tuple[float, float]:
    """A tenant's (requests_per_second, bytes_per_second): its own, else the server's."""
    per_request = limits.requests_per_second
    per_byte = limits.bytes_per_second
    return (
        default.requests_per_second if per_request is None else per_request,
        default.bytes_per_second if per_byte is None else per_byte,
    )
