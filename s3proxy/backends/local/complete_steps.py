"""A large upload's Complete checked in read-only steps before its one commit job.

The local store's database thread takes the tenants' jobs in turn (:mod:`.fair_jobs`), but a
job, once taken, runs whole. A Complete is one transaction (check the parts, write the object,
remove the upload), and for 10,000 parts reading and checking them alone held the thread
90-180 ms; one that fails (a wrong ETag, parts too small, a failed If-Match, a wrong
whole-object checksum, a quota) leaves the upload as it was, so a tenant could send it again
and again, and every other tenant's job waited for each. Here an upload of more than
:data:`CHECK_STEP` parts is first read in jobs of that many parts and checked, with the upload
as those jobs read it, by the commit's own check (``_complete_record``) in one more job: what
the commit would refuse is answered from there, and only a Complete that passes takes the long
job, which checks everything again in its transaction (so a part replaced meanwhile is still
seen) and then ends the upload (~0.5 s for 10,000 parts; the tenant must upload 10,000 parts
again for another). An upload of up to :data:`CHECK_STEP` parts is committed as before, in one
job that learns its part count first.
"""

from __future__ import annotations

from s3proxy.backends.local.core import StoreCore, now_ms
from s3proxy.backends.local.index import ObjectRecord, StoredPart, UploadRecord
from s3proxy.model import CompleteMultipartInput

CHECK_STEP = 1000
"""Parts per read-only job of a large upload's Complete check: one ListParts page's worth,
~10-20 ms of the database thread."""


class CompleteSteps(StoreCore):
    """The stepped check of :class:`~s3proxy.backends.local.multipart.LocalMultipart`'s
    Complete (module docstring)."""

    def _upload(self, upload_id: str, bucket: str, key: str) -> UploadRecord:
        """The upload, or NoSuchUpload (LocalMultipart's)."""
        raise NotImplementedError

    def _complete_record(
        self,
        request: CompleteMultipartInput,
        modified_ms: int,
        upload: UploadRecord,
        stored: dict[int, StoredPart],
    ) -> ObjectRecord:
        """The object the Complete commits, or S3's refusal (LocalMultipart's)."""
        raise NotImplementedError

    async def _check_in_steps(self, request: CompleteMultipartInput) -> None:
        """Whatever the commit would refuse, answered from read-only jobs of
        :data:`CHECK_STEP` parts each and one job checking them (module docstring)."""
        stored: dict[int, StoredPart] = {}
        while True:
            rows = await self._run(self._part_slice, request, max(stored, default=0))
            stored.update(rows)
            if len(rows) < CHECK_STEP:
                break
        await self._run(self._precheck, request, now_ms(), stored)

    def _part_slice(
        self, request: CompleteMultipartInput, after: int
    ) -> list[tuple[int, StoredPart]]:
        self.index.db.execute("BEGIN")
        try:
            self._upload(request.upload_id, request.bucket, request.key)
            return self.index.parts(request.upload_id, after, CHECK_STEP)
        finally:
            self.index.db.execute("COMMIT")

    def _precheck(
        self, request: CompleteMultipartInput, modified_ms: int, stored: dict[int, StoredPart]
    ) -> None:
        self.index.db.execute("BEGIN")
        try:
            upload = self._upload(request.upload_id, request.bucket, request.key)
            self._complete_record(request, modified_ms, upload, stored)
        finally:
            self.index.db.execute("COMMIT")

    def _part_count(self, upload_id: str) -> int:
        row = self.index.db.execute(
            "SELECT count(*) FROM parts WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        return int(row[0])
