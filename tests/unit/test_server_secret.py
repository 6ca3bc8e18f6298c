"""Secrets that survive restarts: the upstream quick start keeps its generated server secret in
its state directory, says how to set one, and check-config refuses a secret under 32 bytes."""

from __future__ import annotations

import stat
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy.cli import main
from s3proxy.config import ConfigError, load_settings
from s3proxy.config.local_default import SECRET_FILE, with_secret_kept_in

QUICK_START = ["serve", "--upstream", "http://127.0.0.1:8333", "--upstream-bucket", "data"]


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """The settings each ``serve`` hands to the server (which is not started)."""
    calls: list[Any] = []

    def fake_run(settings: Any, config_path: Path | None, overrides: Any = None) -> int:
        calls.append(settings)
        return 0

    fake_server = types.ModuleType("s3proxy.server")
    fake_server.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "s3proxy.server", fake_server)
    for name, value in {
        "UPSTREAM_ACCESS_KEY": "uak",
        "UPSTREAM_SECRET_KEY": "usk",
        "ACCESS_KEY": "quickkey",
        "SECRET_KEY": "quicksecret",
    }.items():
        monkeypatch.setenv(f"S3PROXY_{name}", value)
    monkeypatch.delenv("S3PROXY_SECRET", raising=False)
    monkeypatch.delenv("S3PROXY_SERVER__SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    return calls


def secret_of(settings: Any) -> str:
    assert settings.server.secret is not None
    return str(settings.server.secret.get_secret_value())


def test_quick_start_secret_survives_a_restart(
    served: list[Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    for _ in range(2):
        assert main([*QUICK_START, "--state-dir", str(state)]) == 0
    first, second = (secret_of(settings) for settings in served)
    assert first == second and len(first) == 64
    assert stat.S_IMODE((state / SECRET_FILE).stat().st_mode) == 0o600
    out = capsys.readouterr().out
    assert str(state / SECRET_FILE) in out and "S3PROXY_SERVER__SECRET" in out
    assert first not in out


def test_quick_start_default_state_dir_is_in_the_working_directory(
    served: list[Any], tmp_path: Path
) -> None:
    assert main(QUICK_START) == 0
    assert (tmp_path / "s3proxy-state" / SECRET_FILE).read_text().strip() == secret_of(served[0])


def test_a_secret_from_the_environment_wins(
    served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3PROXY_SERVER__SECRET", "e" * 40)
    assert main([*QUICK_START, "--state-dir", str(tmp_path / "state")]) == 0
    assert secret_of(served[0]) == "e" * 40
    assert not (tmp_path / "state").exists()


def test_state_dir_belongs_to_the_quick_start(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--state-dir", "s"]) == 2
    assert "--state-dir is for the quick start with --upstream" in capsys.readouterr().err


def test_a_damaged_secret_file_is_named(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("short\n")
    settings = load_settings(write_config(tmp_path, None))
    with pytest.raises(ConfigError, match=SECRET_FILE):
        with_secret_kept_in(settings, tmp_path)


def write_config(tmp_path: Path, secret: str | None) -> Path:
    config = {
        "server": {} if secret is None else {"secret": secret},
        "upstreams": {
            "main": {"endpoint": "http://127.0.0.1:1", "access_key": "a", "secret_key": "b"}
        },
        "tenants": {
            "alice": {
                "keys": [{"access_key": "AKALICE", "secret_key": "alice-secret-key"}],
                "home": {"upstream": "main", "bucket": "data"},
            }
        },
    }
    path = tmp_path / "s3proxy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("secret", ["Qz", "s" * 31, "é" * 15])
def test_check_config_refuses_a_short_secret(
    secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(write_config(tmp_path, secret))]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert (
        "server.secret" in err
        and "at least 32 are needed" in err
        and "S3PROXY_SERVER__SECRET" in err
    )
    assert secret not in err


@pytest.mark.parametrize("secret", ["s" * 32, "é" * 16])
def test_check_config_accepts_32_bytes(
    secret: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(write_config(tmp_path, secret))]) == 0
    assert "secret: '********'" in capsys.readouterr().out
