"""Review of b8abe1d (wave 16 R): a copy refused 4xx *after* its bytes were copied is refunded.

b8abe1d gives a copy's byte-rate charge back when the copy is answered 4xx, on the ground that
"S3 refuses a copy before it copies", and keeps it only where the source's bytes passed through
``backends.part_copy`` (``copy_charge.moved``). The local store copies a part itself: it reads
the whole range and writes it as a blob, and only then commits it into the upload, where an
upload aborted meanwhile (the tenant's own AbortMultipartUpload on another connection) is 404
NoSuchUpload. All the bytes were read and written, yet the charge is given back, so a tenant
that aborts each upload while its part copy runs copies at any rate its byte limit was meant to
bound (up to 5 GiB per UploadPartCopy). Before b8abe1d the charge stayed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3proxy.app import S3App
from s3proxy.backends.local.multipart import LocalMultipart
from tests.unit.test_rate_limits_app import LIMITED, call
from tests.unit.test_w15f2_copy_charge import always_reread, copied, copy, upload

__all__ = ["always_reread"]
RANGE = "bytes=0-29999"


def test_a_part_copy_whose_upload_is_aborted_after_its_bytes_were_copied_stays_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = LocalMultipart._commit_part

    def aborted_meanwhile(self: Any, upload_id: str, request: Any, *args: Any) -> None:
        # The part's 30,000 bytes are read and written by now; an abort lands first.
        self._commit_abort(request.bucket, request.key, upload_id)
        commit(self, upload_id, request, *args)

    monkeypatch.setattr(LocalMultipart, "_commit_part", aborted_meanwhile)

    async def scenario(app: S3App) -> None:
        upload_id = await upload(app, "mp")
        part = await copy(
            app, "mp", f"?partNumber=1&uploadId={upload_id}",
            **{"x-amz-copy-source-range": RANGE},
        )  # fmt: skip
        assert part.status == 404, part.body  # NoSuchUpload, after the copy's work
        after = await call(app, "HEAD", LIMITED, "src")
        assert after.status == 503, "30,000 bytes read and written, and given back"

    copied(scenario, tmp_path=tmp_path)
