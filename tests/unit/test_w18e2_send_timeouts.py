"""A reload sets ``server.body_idle_timeout`` where the engines hold it for answers (wave 18, E2):
the uvicorn protocol class (the TLS front's inner one too) and Hypercorn's configs, through the
setters serve_role hands to :func:`s3proxy.server._reload`. The request side was already read at
each request; tests/integration/test_w18e2_answer_timeout_reload shows a stalled download
dropped at the reloaded timeout on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from uvicorn.server import ServerState

from s3proxy import server, uvicorn_engine
from s3proxy.config import load_settings
from s3proxy.gateway import Gateway
from s3proxy.stalled_answers import STALLS

CONFIG: dict[str, Any] = {
    "server": {"secret": "s" * 32, "body_idle_timeout": 20.0},
    "upstreams": {"u": {"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "b"}},
    "tenants": {"t": {"keys": [{"access_key": "AKTENANT", "secret_key": "t" * 20}]}},
}


@pytest.fixture(autouse=True)
def _stall_bound_kept() -> Iterator[None]:
    """A reload configures the process-wide STALLS: its bound is put back for later tests."""
    saved = STALLS.limit
    yield
    STALLS.configure(saved)


def _config(path: Path, **settings: Any) -> Path:
    path.write_text(yaml.safe_dump({**CONFIG, "server": {**CONFIG["server"], **settings}}))
    return path


def test_a_reload_sets_the_answers_timeout_and_a_failed_one_does_not(tmp_path: Path) -> None:
    config = _config(tmp_path / "s3proxy.yaml")
    gateway = Gateway(load_settings(config))
    seen: list[float] = []
    try:
        _config(config, body_idle_timeout=3.5)
        server._reload(gateway, config, {}, server.Role(), [seen.append, seen.append])
        assert seen == [3.5, 3.5]
        config.write_text("server: [not, a, mapping]\n")
        server._reload(gateway, config, {}, server.Role(), [seen.append])
        assert seen == [3.5, 3.5]  # the running configuration is kept, its timeout too
    finally:
        asyncio.run(gateway.close())


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_the_uvicorn_protocols_take_the_timeout_a_reload_sets(tmp_path: Path, tls: bool) -> None:
    settings: dict[str, Any] = {}
    if tls:
        issued = trustme.CA().issue_cert("localhost")
        issued.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
        issued.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
        settings = {"tls_cert": str(tmp_path / "cert.pem"), "tls_key": str(tmp_path / "key.pem")}
    loaded = load_settings(_config(tmp_path / "s3proxy.yaml", **settings))
    setters: list[Callable[[float], None]] = []
    config = uvicorn_engine.uvicorn_config(None, loaded, None, setters)
    config.load()

    async def timeout_of_a_new_connection() -> float | None:
        built: Any = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=ServerState(), app_state={}
        )
        protocol = built.inner if tls else built
        timeout: float | None = protocol.send_timeout
        return timeout

    assert asyncio.run(timeout_of_a_new_connection()) == 20.0
    assert len(setters) == 1
    setters[0](2.5)
    assert asyncio.run(timeout_of_a_new_connection()) == 2.5
