"""The pure half of tests/integration/test_w18g_data_safety.py's lost copy answer (wave 18 G):
a copy with ``x-amz-copy-source-if-*`` is a conditional write, never sent again by the native
pool after a stale connection (its second attempt is checked on a source the first may have
changed), nor by the aiohttp client (the same :func:`conditional_write`)."""

from __future__ import annotations

import pytest

from s3proxy.backends.upstream_pool import conditional_write
from tests.unit.test_upstream_http import closes_on_second_request, get, run, serving

COPY = {"x-amz-copy-source": "/b/source"}
CONDITIONS = [
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_a_copy_with_a_source_condition_is_a_conditional_write(condition: str) -> None:
    assert conditional_write("PUT", {**COPY, condition: '"e"'})
    assert not conditional_write("GET", {condition: '"e"'})
    assert not conditional_write("PUT", COPY)


@pytest.mark.parametrize(
    ("condition", "sent_again"), [(None, True), *((c, False) for c in CONDITIONS)]
)
def test_a_conditional_copy_is_never_sent_again_after_a_stale_connection(
    condition: str | None, sent_again: bool
) -> None:
    """A reused connection that fails before any answer byte: the copy may have been made. A
    plain copy is sent again on a new connection; one with a source condition is not."""

    async def go() -> None:
        async with serving(closes_on_second_request(1)) as (server, pool):
            first = await get(pool, server.port)
            await first.read()
            first.release()
            headers = {"host": "h", **COPY}
            if condition is not None:
                headers[condition] = '"e"'
            request = pool.request("PUT", "127.0.0.1", server.port, "/b/k", headers)
            if sent_again:
                response = await request
                assert response.status == 200
                response.release()
            else:
                with pytest.raises(ConnectionError):
                    await request
            assert server.connections == (2 if sent_again else 1)

    run(go())
