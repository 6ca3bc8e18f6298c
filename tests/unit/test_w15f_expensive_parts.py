"""ListParts holds one of its tenant's expensive-operation slots (wave 15 F).

A ListParts page reads and parses up to 1,000 parts from the upstream and renders them (~13 ms
of CPU), the cost of a listing page, but took no expensive slot: a tenant could run
``max_concurrent_requests`` of them at once (16 on a local store held another tenant's 1 KiB GET
at ~1.5 s, p50). Through the ASGI app in front of a local store, as
tests/unit/test_w10a_expensive.py checks the other expensive operations: with the heavy tenant's
one slot taken, its ListParts waits ``max_wait`` and gets 503 SlowDown, while the light
tenant's ListParts and the heavy tenant's own UploadPart are served; given back, it is served.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

from s3proxy.app import Gateway, S3App
from tests.support.asgi import call_app
from tests.support.s3http import object_url
from tests.unit.test_w10a_expensive import ENDPOINT, HEAVY, LIGHT, _limited, _settings


def test_list_parts_waits_for_its_tenants_expensive_slot(tmp_path: Path) -> None:
    async def scenario() -> None:
        gateway = Gateway(_settings(tmp_path, {"max_concurrent_expensive": 1}))
        app = S3App(gateway)
        try:
            urls = {}
            for keys in (HEAVY, LIGHT):
                made = await call_app(app, "PUT", object_url(ENDPOINT, "docs"), keys)
                assert made.status == 200
                key = object_url(ENDPOINT, "docs", "big")
                created = await call_app(app, "POST", key + "?uploads", keys)
                upload = ET.fromstring(created.body).findtext("{*}UploadId")
                assert created.status == 200 and upload
                urls[keys] = f"{key}?uploadId={quote(upload, safe='')}"
            slot = gateway.admission.expensive["heavy"]
            await slot.enter(0.01)  # another request of heavy's holds its one slot
            refused = await call_app(app, "GET", urls[HEAVY], HEAVY)
            assert (refused.status, refused.code) == (503, "SlowDown")
            assert refused.headers["retry-after"] == "1"
            assert (await call_app(app, "GET", urls[LIGHT], LIGHT)).status == 200
            part = urls[HEAVY].replace("?", "?partNumber=1&")
            assert (await call_app(app, "PUT", part, HEAVY, b"x")).status == 200
            slot.leave()
            served = await call_app(app, "GET", urls[HEAVY], HEAVY)
            assert served.status == 200 and b"<PartNumber>1</PartNumber>" in served.body
            assert slot.active == 0
        finally:
            await gateway.close()

    before = _limited("heavy", "SlowDown")
    asyncio.run(scenario())
    assert _limited("heavy", "SlowDown") == before + 1
