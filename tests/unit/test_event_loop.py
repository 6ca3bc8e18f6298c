"""server.event_loop: uvloop where it can be imported, asyncio's own loop otherwise or when
asked, and check-config refuses ``uvloop`` where it is missing."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from s3proxy import event_loop
from tests.unit.test_config import base_config, error_of, load

uvloop = pytest.importorskip("uvloop")


async def loop_class() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


@pytest.fixture()
def no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform without uvloop: importing it fails."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


def test_auto_serves_on_uvloop_where_installed() -> None:
    assert event_loop.loop_factory("auto")[0] == "uvloop"
    assert event_loop.run(loop_class(), "auto") is uvloop.Loop


def test_uvloop_when_asked() -> None:
    assert event_loop.run(loop_class(), "uvloop") is uvloop.Loop


def test_asyncio_when_asked_even_with_uvloop_installed() -> None:
    assert event_loop.loop_factory("asyncio") == ("asyncio", None)
    used = event_loop.run(loop_class(), "asyncio")
    assert not issubclass(used, uvloop.Loop)
    assert issubclass(used, asyncio.BaseEventLoop)


@pytest.mark.usefixtures("no_uvloop")
def test_auto_falls_back_to_asyncio_without_uvloop() -> None:
    assert not event_loop.uvloop_available()
    assert event_loop.loop_factory("auto") == ("asyncio", None)
    assert not issubclass(event_loop.run(loop_class(), "auto"), uvloop.Loop)


@pytest.mark.usefixtures("no_uvloop")
def test_uvloop_insisted_on_without_it_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="uvloop cannot be imported"):
        event_loop.loop_factory("uvloop")
    config = base_config()
    config["server"] = {"event_loop": "uvloop"}
    assert "server.event_loop: uvloop is not installed" in error_of(tmp_path, config)


def test_setting_defaults_to_auto_and_takes_only_known_loops(tmp_path: Path) -> None:
    assert load(tmp_path, base_config()).server.event_loop == "auto"
    config = base_config()
    config["server"] = {"event_loop": "asyncio"}
    assert load(tmp_path, config).server.event_loop == "asyncio"
    config["server"] = {"event_loop": "trio"}
    assert "event_loop" in error_of(tmp_path, config)
