"""A granted read refused because its object changed carries no CORS headers of the owner's
(wave 18, R3F of R3's review of d5b1005). granted_reads set the request's ``bucket_owner``
(whose bucket's CORS rules answer) before checking that the object read is the one whose ACL
granted it; when it is not (replaced meanwhile), the caller gets its own refusal, and that
refusal carried the owner's Access-Control-Allow-Origin as though the owner's bucket answered.
In process on the local store; the race is stood in for by the answer's ETag read as another."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from s3proxy import granted_reads
from tests.unit.test_granted_reads import ALICE, BOB, BUCKET, Client, alices_bucket, run

ORIGIN = "https://app.example"
CORS = (
    b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
    b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>"
)


def test_a_granted_read_of_a_replaced_object_shows_no_owner_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(call: Client) -> None:
        await alices_bucket(call)
        md5 = {"Content-MD5": base64.b64encode(hashlib.md5(CORS).digest()).decode()}
        put = await call(ALICE, "PUT", f"{BUCKET}?cors", CORS, md5)
        assert put.status == 200, put.body
        origin = {"Origin": ORIGIN}
        served = await call(BOB, "GET", f"{BUCKET}/signed.txt", headers=origin)
        assert served.status == 200
        assert served.headers.get("access-control-allow-origin") == ORIGIN  # alice's rules
        # The object read is another than the one whose record granted it (replaced since):
        # the ETag of the answer read is not the record's.
        read = granted_reads.header
        monkeypatch.setattr(
            granted_reads,
            "header",
            lambda response, name: '"replaced"' if name == "etag" else read(response, name),
        )
        refused = await call(BOB, "GET", f"{BUCKET}/signed.txt", headers=origin)
        assert refused.status >= 400
        assert "access-control-allow-origin" not in refused.headers, refused.headers

    run(tmp_path, scenario)
