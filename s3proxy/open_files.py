"""Client connections kept within the process's open-file limit.

Every client connection holds a file descriptor, and so does every upstream connection, spool
file and log file. ``server.max_client_connections`` (10,000) and
``server.max_connections_per_client`` (1,000) are counts of connections, not of descriptors: under
the usual soft limit of 1,024 open files (systemd's and most shells' default) one address's idle
connections used every descriptor before either bound refused anything. ``accept()`` then fails
with EMFILE, and asyncio only logs it and stops accepting for a second at a time: every tenant's
new connection waits in the kernel's backlog with no answer (no 503), and requests in progress
fail to open upstream connections and spool files. One client took the proxy from all tenants.

So the serving process first raises its soft limit to the hard one (as Go's runtime and most
servers do: the soft limit is a default for programs that use ``select()``, which the proxy does
not), then bounds client connections to half of what it got, less :data:`RESERVED_FILES` (the
other half is the upstream connections' budget, s3proxy.backends.upstream_budget): past it a
new connection gets ``503 SlowDown`` as at the configured bounds.
"""

from __future__ import annotations

import contextlib
import logging
import resource

from s3proxy.config import ServerConfig

log = logging.getLogger(__name__)

RESERVED_FILES = 64
"""Descriptors left for what is not a connection: log, spool and temporary files, the event
loop's own, the supervisor's pipes."""

UNLIMITED = 1 << 20
"""What an unlimited soft limit counts as (Linux's default ``fs.nr_open``)."""


def raise_open_file_limit() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; the soft limit now in force.

    Children (workers) inherit it. A limit the system refuses to raise is left as it is.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return UNLIMITED
    target = UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if target > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    return soft


def connection_bounds(
    total: int, per_client: int, open_files: int, *, configured: bool = True
) -> tuple[int, int]:
    """``(total, per_client)`` client connections, as configured but at most what
    ``open_files`` descriptors leave for them (see the module's docstring).

    Only a ``total`` the operator set (``configured``) is warned about when it cannot be kept:
    the default (10,000) is "as many as the limit leaves", and a box whose limit is 20,000 (a
    common hard limit) warned at every start of every worker about a value nobody chose."""
    usable = max(open_files // 2 - RESERVED_FILES, 1)
    if total > usable:
        (log.warning if configured else log.info)(
            "server.max_client_connections=%d is above what the open-file limit (%d) leaves "
            "for client connections: at most %d are accepted (raise the limit: ulimit -n, "
            "systemd LimitNOFILE)",
            total,
            open_files,
            usable,
        )
        total = usable
    return total, min(per_client, total)


def server_bounds(server: ServerConfig, open_files: int) -> tuple[int, int]:
    """:func:`connection_bounds` for ``server``'s settings: a warning only for a
    ``max_client_connections`` written in the configuration."""
    return connection_bounds(
        server.max_client_connections,
        server.max_connections_per_client,
        open_files,
        configured="max_client_connections" in server.model_fields_set,
    )
