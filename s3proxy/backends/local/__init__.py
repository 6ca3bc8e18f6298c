"""The embedded local store (``type: local``): objects on local disk, identical bytes stored once.

See :mod:`.store` for the design; ``read_stats`` serves ``s3proxy stats``.

The store is loaded at its first use (PEP 562 ``__getattr__``), not when a submodule is: the
S3 backend's multipart records share :mod:`.combined` and :mod:`.index` with it, and a
deployment without a local store should not pay for importing the store at every start
(BENCHMARKS.md "Start-up").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3proxy.backends.local.core import StoreStats, read_stats, read_usage
    from s3proxy.backends.local.store import LocalStore

__all__ = ["LocalStore", "StoreStats", "read_stats", "read_usage"]


def __getattr__(name: str) -> object:
    if name == "LocalStore":
        from s3proxy.backends.local.store import LocalStore

        return LocalStore
    if name in ("StoreStats", "read_stats", "read_usage"):
        from s3proxy.backends.local import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
