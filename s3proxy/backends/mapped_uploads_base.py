"""What every part of a tenant's multipart calls shares: its storage, its backends, its records.

Split from :mod:`s3proxy.backends.mapped_multipart` with :mod:`.mapped_completion`: both
classes of :class:`~s3proxy.backends.mapped_multipart.MappedUploads` map keys through the
tenant's storage and find the upload records (checksums, marks) of a backend in the same way,
so that way is written once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from s3proxy.backends.base import Backend
from s3proxy.backends.upload_records import UploadRecords
from s3proxy.layout import UpstreamLocation

if TYPE_CHECKING:
    from s3proxy.backends.mapped import MappedStorage

LIST_PARTS_PAGE = 1000


class UploadsOnStorage:
    """The storage, backends and record keepers of :class:`.mapped_multipart.MappedUploads`."""

    def __init__(self, storage: MappedStorage, backends: Mapping[str, Backend]) -> None:
        self._storage = storage
        self._backends = backends

    async def _existing(self, bucket: str, key: str) -> tuple[Backend, UpstreamLocation]:
        return await self._storage.existing(bucket, key)

    def _records(self, backend: Backend) -> UploadRecords | None:
        """Where the checksum records of uploads on ``backend`` go, if it needs them
        (:mod:`s3proxy.backends.upload_records`): the tenant's home; None without one."""
        home = self._storage.tenant.home
        if home is None or not getattr(backend, "records_upload_checksums", False):
            return None
        keeper = self._backends.get(home.upstream)
        return UploadRecords(keeper, home) if keeper is not None else None

    def unrecorded_checksums(self, bucket: str, key: str) -> bool:
        """Whether uploads of ``key`` go without the checksum records their upstream needs (a
        tenant without a home): their checksum algorithm and type are then known only where
        the upstream lists them (AWS S3 does; SeaweedFS 4.48 and Ceph RGW 16 do not)."""
        backend = self._storage.locate(bucket, key)[0]
        needs = getattr(backend, "records_upload_checksums", False)
        return bool(needs) and self._records(backend) is None

    def records_checksums(self, bucket: str, key: str) -> bool:
        """Whether the gateway records the checksums of uploads of ``key`` (their upstream
        lists none): an upload id that names none then stands for an upload created without
        a checksum algorithm."""
        return self._records(self._storage.locate(bucket, key)[0]) is not None

    def _home_records(self) -> UploadRecords | None:
        """Where an upload's public ACL mark goes on every lane (the local store keeps its
        other attributes itself): the tenant's home; None without one."""
        home = self._storage.tenant.home
        keeper = self._backends.get(home.upstream) if home is not None else None
        return UploadRecords(keeper, home) if keeper is not None and home is not None else None
