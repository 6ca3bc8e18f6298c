"""A reload keeps the settings only a restart applies (wave 18, review R2 of 3bd5b63).

README says a reload keeps the ``server`` settings the listeners and processes take at their
start (s3proxy.gateway.RESTART_ONLY), and says so in one warning. It warned, but the running
settings took the file's values whole (gateway.reloaded): the supervisor's replacement for a
dead worker (it serves ``Supervisor.settings``) then ran the new engine, event loop and timeouts
beside workers on the old ones, and a second SIGHUP of the same file warned no more. The
running values are now kept, and every reload of the changed file says so; what a reload does
apply (tenants, limits, ``drain_delay`` …) it still applies."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy.config import Settings, load_settings
from s3proxy.gateway import RESTART_ONLY, Gateway, reloaded
from s3proxy.server import restart_only
from s3proxy.supervisor import Supervisor, _Children

SERVER: dict[str, Any] = {
    "secret": "s" * 32,
    "engine": "uvicorn",
    "event_loop": "asyncio",
    "shutdown_timeout": 30,
    "keep_alive_timeout": 5,
    "max_connections_per_client": 64,
    "drain_delay": 0,
}
CHANGED: dict[str, Any] = {
    "engine": "hypercorn",
    "shutdown_timeout": 5,
    "keep_alive_timeout": 9,
    "max_connections_per_client": 8,
    "port": 9123,
}


def _config(root: Path, server: dict[str, Any], tenants: int = 1) -> dict[str, Any]:
    return {
        "server": server,
        "upstreams": {"store": {"type": "local", "path": str(root)}},
        "tenants": {
            f"t{n}": {
                "keys": [{"access_key": f"AKR2FRELOAD0000{n}", "secret_key": "s" * 40}],
                "home": {"upstream": "store", "bucket": f"home{n}"},
            }
            for n in range(tenants)
        },
    }


def _kept(running: Settings, current: Settings) -> None:
    for name in RESTART_ONLY:
        assert getattr(running.server, name) == getattr(current.server, name), name


def test_reloaded_keeps_what_only_a_restart_applies(tmp_path: Path) -> None:
    current = Settings.model_validate(_config(tmp_path, SERVER))
    changed = {**SERVER, **CHANGED, "drain_delay": 3, "secret": None}
    loaded = Settings.model_validate(_config(tmp_path, changed, tenants=2))
    running = reloaded(current, loaded)
    _kept(running, current)
    assert running.server.drain_delay == 3  # a reload applies the rest
    assert set(running.tenants) == {"t0", "t1"}
    assert running.server.secret == current.server.secret  # generated at start: kept
    assert restart_only(running, loaded) is not None  # a second reload still warns


def test_a_processs_own_reload_keeps_them(tmp_path: Path) -> None:
    """A worker's (or a one-process server's) Gateway.reload: what s3proxy.server._reload
    compares the next reload with."""
    current = Settings.model_validate(_config(tmp_path, SERVER))

    async def main() -> Settings:
        gateway = Gateway(current)
        try:
            gateway.reload(Settings.model_validate(_config(tmp_path, {**SERVER, **CHANGED})))
            return gateway.runtime.settings
        finally:
            await gateway.close()

    running = asyncio.run(main())
    _kept(running, current)
    assert running.server.keep_alive_timeout == SERVER["keep_alive_timeout"]


def test_a_dead_workers_replacement_gets_the_running_ones_and_every_hangup_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Supervisor.settings is what a replacement worker serves (s3proxy.supervisor._child)."""
    config = tmp_path / "s3proxy.yaml"
    config.write_text(yaml.safe_dump(_config(tmp_path, SERVER)))
    supervisor = Supervisor(load_settings(config), config, workers=2)
    started = supervisor.settings
    config.write_text(yaml.safe_dump(_config(tmp_path, {**SERVER, **CHANGED}, tenants=2)))
    sent: list[int] = []
    monkeypatch.setattr(_Children, "signal", lambda self, pids, signum: sent.append(signum))
    with caplog.at_level(logging.WARNING, logger="s3proxy"):
        for _ in range(2):
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
            try:
                signal.pthread_kill(threading.get_ident(), signal.SIGHUP)  # this thread only
                supervisor._wait_once()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
    assert sent == [signal.SIGHUP, signal.SIGHUP]
    _kept(supervisor.settings, started)
    assert set(supervisor.settings.tenants) == {"t0", "t1"}
    warnings = [r.getMessage() for r in caplog.records if "needs a restart" in r.getMessage()]
    assert len(warnings) == 2, warnings  # the second SIGHUP of the same file warned no more
    assert "server.engine" in warnings[1]
