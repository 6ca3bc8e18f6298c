"""SIGHUP with a broken configuration: one line, and the running configuration kept (wave 17, E).

The supervisor passed SIGHUP to every process and each loaded the file itself, so a typo was
the same error line once per worker and once more for the admin process (nine with eight
workers). It now loads the file first and passes the signal on only when the file loads and
changes nothing that needs a restart.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import pytest
import yaml

from s3proxy.config import load_settings
from s3proxy.supervisor import Supervisor, _Children

CONFIG = {
    "server": {"secret": "s" * 32},
    "upstreams": {"u": {"endpoint": "http://127.0.0.1:9", "access_key": "a", "secret_key": "b"}},
    "tenants": {"t": {"keys": [{"access_key": "AKTENANT", "secret_key": "t" * 20}]}},
}


def _hangup(supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The signals the supervisor sends its children for one SIGHUP, taken as it takes them."""
    sent: list[int] = []
    monkeypatch.setattr(_Children, "signal", lambda self, pids, signum: sent.append(signum))
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    try:
        signal.pthread_kill(threading.get_ident(), signal.SIGHUP)  # this thread only
        supervisor._wait_once()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
    return sent


@pytest.mark.parametrize(
    "broken",
    [
        "tenants: [this is not valid",
        yaml.safe_dump({**CONFIG, "tenantz": CONFIG["tenants"]}),
        yaml.safe_dump({**CONFIG, "upstreams": {"v": CONFIG["upstreams"]["u"]}}),
    ],
    ids=["yaml", "field", "upstreams"],
)
def test_a_broken_configuration_is_said_once_and_reaches_no_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    broken: str,
) -> None:
    config = tmp_path / "s3proxy.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    supervisor = Supervisor(load_settings(config), config, workers=2)
    config.write_text(broken)
    with caplog.at_level(logging.ERROR, logger="s3proxy"):
        assert _hangup(supervisor, monkeypatch) == []
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith(f"reload of {config} failed, keeping the running configuration: ")


def test_a_good_configuration_reaches_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "s3proxy.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    supervisor = Supervisor(load_settings(config), config, workers=2)
    tenants = {
        **CONFIG["tenants"],
        "t2": {"keys": [{"access_key": "AKOTHER", "secret_key": "o" * 20}]},
    }
    config.write_text(yaml.safe_dump({**CONFIG, "tenants": tenants}))
    assert _hangup(supervisor, monkeypatch) == [signal.SIGHUP]
