"""An UploadPartCopy range past its source's end: S3's 400 InvalidArgument naming the source's
size, and the copy's charge given back (wave 18, V2).

In process, on a local store, with the wave 15 copy-rate harness: a 40,000-byte source, the
tenant held to 2000 B/s. Before, the answer was 416 InvalidRange; its refund must survive the
new code (a 30,000-byte refused range left in debt would answer the next request 503).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from s3proxy.app import S3App
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.test_rate_limits_app import ENDPOINT, LIMITED, call
from tests.unit.test_w15f2_copy_charge import SOURCE, always_reread, copied, copy, upload

__all__ = ["always_reread"]
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_a_range_past_the_source_is_invalid_argument_and_costs_nothing(tmp_path: Path) -> None:
    async def scenario(app: S3App) -> None:
        upload_id = await upload(app, "mp")
        for past in ("bytes=20000-49999", "bytes=40000-69999", "bytes=10000-40000"):
            part = await copy(
                app, "mp", f"?partNumber=1&uploadId={upload_id}",
                **{"x-amz-copy-source-range": past},
            )  # fmt: skip
            assert part.status == 400, (past, part.body)
            error = ET.fromstring(part.body)
            assert (error.findtext("Code"), error.findtext("Message")) == (
                "InvalidArgument",
                f"Range specified is not valid for source object of size: {SOURCE}",
            ), past
        assert (await call(app, "HEAD", LIMITED, "src")).status == 200  # not in debt
        url = object_url(ENDPOINT, "docs", "mp") + f"?uploadId={upload_id}"
        listed = await call_app(app, "GET", url, LIMITED)
        assert listed.status == 200 and ET.fromstring(listed.body).find(f"{NS}Part") is None

    copied(scenario, tmp_path=tmp_path)
