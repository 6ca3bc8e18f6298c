"""The real proof of CORS: a headless Chromium page on another origin uploads with fetch() to a
presigned URL and reads the object back, on every lane. Debian's ``chromium`` is installed on
first use (conformance.debian, as the Ceph fixture installs Ceph); skipped, with the command,
only where that is impossible (not root, not Debian).

The page is served from its own loopback port, so the browser treats the proxy as another origin
and does what it does on the web: a preflight before the PUT (PUT and a non-safelisted
Content-Type both require one), then the PUT and the GET, each of whose answers it lets the
script read only when the proxy's CORS headers allow it. ``--dump-dom`` with a virtual-time
budget prints the page once the script is done; the budget waits while requests are in flight.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conformance.debian import PackagesUnavailable, ensure_packages
from tests.integration.conftest import Proxy

pytestmark = pytest.mark.integration


@functools.cache
def chromium() -> str:
    """The browser program, installed with apt the first time it is missing."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        try:
            ensure_packages(["chromium"], ["chromium"])
        except PackagesUnavailable as error:
            pytest.skip(f"chromium: {error}")
        found = shutil.which("chromium")
    assert found is not None, "apt installed chromium, yet there is no chromium program"
    return found


SCRIPT = """
async function run() {
  const out = document.getElementById("out");
  try {
    const put = await fetch(PUT_URL, {
      method: "PUT",
      headers: {"Content-Type": "application/octet-stream"},
      body: "uploaded by a browser",
    });
    const got = await fetch(GET_URL);
    out.textContent = JSON.stringify({
      put: put.status, etag: put.headers.get("ETag"), get: got.status, text: await got.text(),
    });
  } catch (error) {
    out.textContent = JSON.stringify({error: String(error)});
  }
}
run();
"""


class Page:
    """One HTML page on its own loopback port (the browser's origin)."""

    def __init__(self) -> None:
        self.html = b""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page.html)))
                self.end_headers()
                self.wfile.write(page.html)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def show(self, put_url: str, get_url: str) -> None:
        script = f"const PUT_URL = {json.dumps(put_url)};\nconst GET_URL = {json.dumps(get_url)};"
        self.html = (
            f'<!doctype html><html><body><pre id="out">pending</pre>'
            f"<script>{script}{SCRIPT}</script></body></html>"
        ).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def page() -> Iterator[Page]:
    chromium()
    served = Page()
    try:
        yield served
    finally:
        served.close()


def browse(url: str, profile: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", f"--user-data-dir={profile}",
            "--virtual-time-budget=20000", "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    start, end = done.stdout.find('<pre id="out">'), done.stdout.find("</pre>")
    assert start >= 0 and end > start, done.stdout[-2000:] + done.stderr[-2000:]
    result: dict[str, Any] = json.loads(html.unescape(done.stdout[start + 14 : end]))
    return result


def test_a_page_uploads_and_reads_back_through_presigned_urls(
    proxy: Proxy, page: Page, tmp_path: Path
) -> None:
    s3 = proxy.client("alice")
    bucket = "browser-" + os.urandom(4).hex()
    s3.create_bucket(Bucket=bucket)
    try:
        put_url = s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": "up.txt", "ContentType": "application/octet-stream"},
        )
        get_url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "up.txt"}
        )
        page.show(put_url, get_url)

        # Without a CORS rule the browser stops at the preflight: nothing is stored.
        blocked = browse(page.origin, tmp_path / "profile-1")
        assert "error" in blocked, blocked
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

        s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [page.origin],
                        "AllowedMethods": ["PUT", "GET"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                    }
                ]
            },
        )
        result = browse(page.origin, tmp_path / "profile-2")
        stored = s3.get_object(Bucket=bucket, Key="up.txt")
        assert result == {
            "put": 200,
            "etag": stored["ETag"],  # readable only because ExposeHeader names it
            "get": 200,
            "text": "uploaded by a browser",
        }
        assert stored["Body"].read() == b"uploaded by a browser"
    finally:
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
