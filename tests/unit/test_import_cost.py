"""Start-up cost: what only one configuration uses is imported only by it (BENCHMARKS.md
"Start-up"). Every start of ``s3proxy serve`` and every proxy the tests start pays the import
of s3proxy.server; the aiohttp client (``client: aiohttp``) and the local store (``type:
local``) are not used by every deployment. The aiohttp client, imported when chosen, still
fails as it did."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from pydantic import SecretStr

from s3proxy.backends.s3 import WHOLE_BODY_LIMIT, S3Upstream
from s3proxy.config import UpstreamConfig
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.model import ReadConditions


def _modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after ``statement``."""
    code = f"{statement}; import sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _imported_by(statement: str) -> set[str]:
    """Top-level packages a fresh interpreter holds after ``statement``."""
    return {name.split(".")[0] for name in _modules_after(statement)}


def test_importing_the_server_leaves_out_the_aiohttp_client() -> None:
    assert not {"aiohttp", "yarl", "multidict"} & _imported_by("import s3proxy.server")


def test_importing_the_server_leaves_out_the_local_store() -> None:
    """The S3 backend's multipart records share two small modules of the local store; the
    store itself (and its blob and multipart machinery) loads only when configured."""
    modules = _modules_after("import s3proxy.server")
    assert not {"s3proxy.backends.local.store", "s3proxy.backends.local.core"} & modules


def test_a_native_upstream_does_not_import_aiohttp() -> None:
    statement = (
        "from s3proxy.backends.s3 import S3Upstream; from s3proxy.config import UpstreamConfig; "
        "S3Upstream('u', UpstreamConfig(endpoint='http://127.0.0.1:9', access_key='a', "
        "secret_key='s'))"
    )
    assert "aiohttp" not in _imported_by(statement)


async def _cut_body_upstream(length: int, sent: int) -> asyncio.Server:
    """An upstream that answers every GET with ``length`` bytes announced and ``sent`` sent."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        modified = "Last-Modified: Sun, 29 Nov 2026 00:00:00 GMT"
        head = f'HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nETag: "e"\r\n{modified}\r\n\r\n'
        writer.write(head.encode() + b"x" * sent)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


@pytest.mark.parametrize("length", [100, WHOLE_BODY_LIMIT + 100], ids=["whole", "streamed"])
def test_aiohttp_client_cut_body_is_a_failure_not_a_short_object(length: int) -> None:
    """A body cut short is 503 (read whole) or a failed stream (the client's connection is
    aborted), as with the native client: aiohttp's own payload error is translated at its
    boundary now that no other module imports aiohttp."""

    async def go() -> str:
        listener = await _cut_body_upstream(length, 10)
        port = listener.sockets[0].getsockname()[1]
        config = UpstreamConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key=SecretStr("ak"),
            secret_key=SecretStr("sk"),
            client="aiohttp",
        )
        backend = S3Upstream("cut", config)
        try:
            try:
                output = await backend.get_object("ub", "k", None, ReadConditions())
            except S3Error as exc:
                assert exc.code is S3ErrorCode.ServiceUnavailable
                return "503"
            try:
                with pytest.raises(OSError):
                    async for _ in output.body:
                        pass
            finally:
                await output.aclose()
            return "aborted"
        finally:
            await backend.close()
            listener.close()

    assert asyncio.run(go()) == ("503" if length <= WHOLE_BODY_LIMIT else "aborted")
