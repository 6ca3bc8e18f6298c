"""The embedded local store (``type: local``): objects on local disk, identical bytes stored once.

See :mod:`.store` for the design; ``read_stats`` serves ``s3proxy stats``.
"""

from s3proxy.backends.local.core import StoreStats, read_stats, read_usage
from s3proxy.backends.local.store import LocalStore

__all__ = ["LocalStore", "StoreStats", "read_stats", "read_usage"]
