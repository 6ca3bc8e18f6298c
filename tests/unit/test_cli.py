"""The command line, run in-process: --version, check-config, locate, serve's argument checks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from s3proxy import __version__
from s3proxy.cli import main
from s3proxy.config import Settings

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"], capsys) == (0, f"s3proxy {__version__}\n", "")


def test_python_dash_m_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "s3proxy", "--version"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, f"s3proxy {__version__}\n")


def test_no_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([], capsys)
    assert code == 2 and "usage: s3proxy" in err


def supply_references(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[str]]:
    """Copy an example next to the files its ``file:`` refs name; set the variables its ``env:``
    refs name. Returns the copy and every secret value supplied."""
    text = example.read_text()
    secrets = []
    for index, name in enumerate(sorted(set(re.findall(r"\benv:([A-Za-z_][A-Za-z0-9_]*)", text)))):
        value = f"env-secret-{index}-{name.lower()}-{'x' * 32}"  # server.secret: 32+ bytes
        monkeypatch.setenv(name, value)
        secrets.append(value)
    for index, ref in enumerate(sorted(set(re.findall(r"\bfile:(\S+)", text)))):
        path = tmp_path / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        value = f"file-secret-{index}-{path.name}"
        path.write_text(value + "\n")
        secrets.append(value)
    copy = tmp_path / example.name
    shutil.copy(example, copy)
    return copy, secrets


def test_examples_are_found() -> None:
    assert {path.name for path in EXAMPLES} >= {"s3proxy.yaml", "minimal.yaml"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_check_config_accepts_each_example(
    example: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, secrets = supply_references(example, tmp_path, monkeypatch)
    assert secrets
    code, out, err = run(["check-config", str(config)], capsys)
    assert (code, err) == (0, "")
    for secret in secrets:
        assert secret not in out
    effective = yaml.safe_load(out)
    assert effective["tenants"] and effective["upstreams"]
    upstreams = effective["upstreams"].values()
    # None: an upstream that takes its keys from the AWS credential chain
    assert all(up.get("secret_key", "********") in ("********", None) for up in upstreams)


def test_full_example_sets_every_field() -> None:
    """examples/s3proxy.yaml documents every field: each appears in it (TLS as a comment)."""
    text = (REPO / "examples" / "s3proxy.yaml").read_text()

    def fields(model: Any) -> set[str]:
        names = set(model.model_fields)
        for field in model.model_fields.values():
            for arg in models_in(field.annotation):
                names |= fields(arg)
        return names

    def models_in(annotation: Any) -> list[Any]:
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            return [annotation]
        args = [*getattr(annotation, "__args__", ()), *getattr(annotation, "__metadata__", ())]
        origin = getattr(annotation, "__origin__", None)
        return [model for arg in [*args, origin] if arg is not None for model in models_in(arg)]

    missing = {name for name in fields(Settings) if not re.search(rf"\b{name}:", text)}
    assert missing == set()


BROKEN = """\
upstreams:
  main: {endpoint: "http://127.0.0.1:8333", access_key: ak, secret_key: hidden-upstream-sk}
tenants:
  alice:
    keys: [{access_key: AKALICE, secret_key: hidden-alice-sk}]
    home: {upstream: nowhere, bucket: data}
"""


def test_check_config_broken_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    code, out, err = run(["check-config", str(path)], capsys)
    assert code == 2 and out == ""
    assert err.startswith("s3proxy: invalid configuration:\n")
    assert "tenants.alice.home.upstream: unknown upstream 'nowhere'" in err
    assert "hidden" not in err


def test_check_config_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check-config", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml" in err


LOCATE_CONFIG = {
    "upstreams": {
        "main": {"endpoint": "http://127.0.0.1:8333", "access_key": "ak", "secret_key": "sk"},
        "archive": {"endpoint": "https://s3.example.com", "access_key": "ak", "secret_key": "sk"},
    },
    "tenants": {
        "alice": {
            "keys": [{"access_key": "AKALICE", "secret_key": "alice-secret"}],
            "home": {"upstream": "main", "bucket": "data"},
            "buckets": {
                "photos": {"upstream": "archive", "bucket": "pics", "prefix": "alice-photos/"}
            },
        },
        "bob": {
            "keys": [{"access_key": "AKBOB", "secret_key": "bob-secret-1"}],
            "buckets": {"shared": {"upstream": "main", "bucket": "bob-shared"}},
        },
    },
}


@pytest.fixture()
def locate_config(tmp_path: Path) -> Path:
    path = tmp_path / "s3proxy.yaml"
    path.write_text(yaml.safe_dump(LOCATE_CONFIG))
    return path


def locate(
    config: Path,
    access_key: str,
    bucket: str,
    key: str,
    capsys: pytest.CaptureFixture[str],
    *options: str,
) -> tuple[int, str, str]:
    arguments = ["locate", "--config", str(config), "--access-key", access_key, *options]
    return run([*arguments, bucket, key], capsys)


def shard(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:1]


def test_locate_home_bucket(locate_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = "2026/report.pdf"
    code, out, err = locate(locate_config, "AKALICE", "docs", key, capsys, "--key-encoding=plain")
    assert (code, err) == (0, "")
    expected = "upstream: main\nbucket: data\nkey_encoding: plain\n"
    assert out == expected + f"key: alice/docs/{shard(key)}/{key}\n"


def test_locate_prints_the_flat_key_by_default_on_s3_upstreams(
    locate_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "2026/report.pdf"
    code, out, err = locate(locate_config, "AKALICE", "docs", key, capsys)
    assert (code, err) == (0, "")
    assert out.splitlines()[-2:] == [
        "key_encoding: flat",
        f"key: alice/docs/{shard(key)}/2026-2freport-2epdf",
    ]


def test_locate_mapped_bucket(locate_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = "summer/beach.jpg"
    code, out, _ = locate(locate_config, "AKALICE", "photos", key, capsys, "--key-encoding=plain")
    assert code == 0
    assert out.splitlines() == [
        "upstream: archive",
        "bucket: pics",
        "key_encoding: plain",
        f"key: alice-photos/{shard(key)}/{key}",
    ]


def test_locate_honours_shards_override(
    locate_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("S3PROXY_LAYOUT__SHARDS", "256")
    monkeypatch.setenv("S3PROXY_LAYOUT__KEY_ENCODING", "plain")
    code, out, _ = locate(locate_config, "AKBOB", "shared", "k", capsys)
    digits = hashlib.sha256(b"k").hexdigest()[:2]
    assert (code, out.splitlines()[-1]) == (0, f"key: {digits}/k")


@pytest.mark.parametrize(
    ("access_key", "bucket", "key", "message"),
    [
        ("AKNOBODY", "docs", "k", "unknown access key 'AKNOBODY'"),
        ("AKBOB", "docs", "k", "NoSuchBucket"),
        ("AKBOB", "photos", "k", "AccessDenied"),
        ("AKALICE", "docs", "k" * 1025, "KeyTooLongError"),
    ],
)
def test_locate_errors(
    locate_config: Path,
    capsys: pytest.CaptureFixture[str],
    access_key: str,
    bucket: str,
    key: str,
    message: str,
) -> None:
    code, out, err = locate(locate_config, access_key, bucket, key, capsys)
    assert (code, out) == (2, "")
    assert err.startswith("s3proxy: ") and message in err


def test_serve_data_dir_is_only_for_the_local_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["serve", "--config", "x.yaml", "--data-dir", "d"], capsys)
    assert code == 2
    assert err == "s3proxy: --data-dir is for the local default: not with --config or --upstream\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--upstream", "http://127.0.0.1:8333"],
        ["serve", "--upstream-bucket", "data"],
        ["serve", "--config", "x.yaml", "--upstream", "http://h", "--upstream-bucket", "b"],
        ["serve", "--port", "not-a-number"],
    ],
)
def test_serve_rejects_bad_flag_combinations(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv, capsys)[0] == 2


def test_serve_quick_start_missing_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("UPSTREAM_ACCESS_KEY", "UPSTREAM_SECRET_KEY", "ACCESS_KEY", "SECRET_KEY"):
        monkeypatch.delenv(f"S3PROXY_{name}", raising=False)
    argv = ["serve", "--upstream", "http://127.0.0.1:8333", "--upstream-bucket", "data"]
    code, _, err = run(argv, capsys)
    # Upstream keys are optional (the AWS credential chain), but go together.
    assert code == 2 and "S3PROXY_ACCESS_KEY" in err and "UPSTREAM" not in err
    monkeypatch.setenv("S3PROXY_UPSTREAM_ACCESS_KEY", "uak")
    code, _, err = run(argv, capsys)
    assert code == 2 and "S3PROXY_UPSTREAM_SECRET_KEY" in err


def test_serve_hands_settings_to_the_server(
    locate_config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Any, Path | None]] = []

    def fake_run(settings: Any, config_path: Path | None, overrides: Any = None) -> int:
        calls.append((settings, config_path))
        return 0

    fake_server = types.ModuleType("s3proxy.server")
    fake_server.run = fake_run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "s3proxy.server", fake_server)  # no sockets, no server stack
    argv = ["serve", "--config", str(locate_config), "--port", "9555", "--shards", "256"]
    assert run(argv, capsys)[0] == 0
    settings, path = calls[0]
    assert path == locate_config
    assert (settings.server.port, settings.layout.shards) == (9555, 256)

    monkeypatch.setenv("S3PROXY_UPSTREAM_ACCESS_KEY", "uak")
    monkeypatch.setenv("S3PROXY_UPSTREAM_SECRET_KEY", "usk")
    monkeypatch.setenv("S3PROXY_ACCESS_KEY", "quickkey")
    monkeypatch.setenv("S3PROXY_SECRET_KEY", "quicksecret")
    monkeypatch.chdir(locate_config.parent)  # the quick start keeps its secret in ./s3proxy-state
    argv = ["serve", "--upstream", "http://127.0.0.1:8333", "--upstream-bucket", "data"]
    assert run([*argv, "--admin-port", "9556"], capsys)[0] == 0
    settings, path = calls[1]
    assert path is None and settings.server.admin_port == 9556
    assert settings.secret_for("quickkey") == ("default", "quicksecret")


# --- locate in every mode serve has; stats with serve's default directory (issue 19.2) --------


def test_locate_by_tenant_name_as_by_access_key(
    locate_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    by_key = locate(locate_config, "AKALICE", "photos", "k", capsys)
    by_name = run(
        ["locate", "--config", str(locate_config), "--tenant", "alice", "photos", "k"], capsys
    )
    assert by_name == by_key and by_key[0] == 0


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ([], "s3proxy: give --tenant NAME, one of: alice, bob\n"),
        (["--tenant", "carol"], "s3proxy: unknown tenant 'carol'; tenants: alice, bob\n"),
    ],
)
def test_locate_names_the_tenants_to_choose_from(
    locate_config: Path, capsys: pytest.CaptureFixture[str], who: list[str], message: str
) -> None:
    assert run(["locate", "--config", str(locate_config), *who, "docs", "k"], capsys) == (
        2,
        "",
        message,
    )


SECRET_REFS = {
    "server": {"secret": "env:P_UNSET_SERVER_SECRET"},
    "upstreams": {
        "main": {
            "endpoint": "http://127.0.0.1:8333",
            "access_key": "env:P_UNSET_UPSTREAM_AK",
            "secret_key": "file:missing/upstream-sk",
        }
    },
    "tenants": {
        "alice": {
            "keys": [{"access_key": "AKALICE", "secret_key": "env:P_UNSET_ALICE_SK"}],
            "home": {"upstream": "main", "bucket": "data"},
        }
    },
}


def test_locate_resolves_no_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "refs.yaml"
    config.write_text(yaml.safe_dump(SECRET_REFS))
    code, _, err = run(["check-config", str(config)], capsys)
    assert code == 2 and "P_UNSET_ALICE_SK" in err and "upstream-sk" in err  # serve would stop
    code, out, err = run(["locate", "--config", str(config), "docs", "a/b"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "upstream: main",
        "bucket: data",
        "key_encoding: flat",
        f"key: alice/docs/{shard('a/b')}/a-2fb",
    ]
    # The single tenant by access key too: access keys are not secrets.
    assert locate(config, "AKALICE", "docs", "a/b", capsys) == (0, out, "")


@pytest.fixture()
def bare_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no S3PROXY_* variable, as on a fresh machine."""
    for name in [name for name in os.environ if name.startswith("S3PROXY_")]:
        monkeypatch.delenv(name)
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def test_locate_quick_start_needs_no_keys(
    bare_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    quick = ["locate", "--upstream", "http://127.0.0.1:8333", "--upstream-bucket", "data"]
    code, out, err = run([*quick, "--shards", "256", "docs", "a/b"], capsys)
    assert (code, err) == (0, "")
    digits = hashlib.sha256(b"a/b").hexdigest()[:2]
    assert out.splitlines() == [
        "upstream: default",
        "bucket: data",
        "key_encoding: flat",
        f"key: default/docs/{digits}/a-2fb",
    ]
    assert list(bare_dir.iterdir()) == []  # no state directory, no secret written
    code, _, err = run([*quick, "--tenant", "alice", "docs", "k"], capsys)
    assert (code, err) == (2, "s3proxy: unknown tenant 'alice'; tenants: default\n")


def test_locate_local_default(bare_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["locate", "docs", "k"], capsys)
    assert code == 2 and err == f"s3proxy: no local store at '{bare_dir / 's3proxy-data'}'\n"
    (bare_dir / "s3proxy-data").mkdir()
    code, out, err = run(["locate", "docs", "a/b"], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "upstream: local",
        "bucket: default",
        "key_encoding: plain",
        f"key: default/docs/{shard('a/b')}/a/b",
    ]
    assert list((bare_dir / "s3proxy-data").iterdir()) == []  # no credentials generated
    moved = bare_dir / "elsewhere"
    (bare_dir / "s3proxy-data").rename(moved)
    assert run(["locate", "--data-dir", "elsewhere", "docs", "a/b"], capsys) == (0, out, "")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--config", "x.yaml", "--upstream", "http://h", "--upstream-bucket", "b"], "not both"),
        (["--upstream", "http://h"], "go together"),
        (["--data-dir", "d", "--config", "x.yaml"], "--data-dir is for the local default"),
        (["--tenant", "a", "--access-key", "AK"], "not allowed with argument"),
    ],
)
def test_locate_refuses_mixed_modes(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["locate", *flags, "docs", "k"], capsys)
    assert (code, out) == (2, "") and message in err


def stored_object(root: Path) -> None:
    """A store at ``root`` holding one 5-byte object."""
    from tests.unit.local_helpers import put
    from tests.unit.local_helpers import run as in_store

    async def scenario(store: Any) -> None:
        await put(store, "k", b"hello")

    in_store(root, scenario)


def test_stats_defaults_to_serves_directory_and_takes_relative_paths(
    bare_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["stats"], capsys)
    assert (code, out) == (2, "")
    assert err == f"s3proxy: no local store at '{Path('s3proxy-data')}'\n"
    stored_object(bare_dir / "s3proxy-data")
    code, out, err = run(["stats", "--json"], capsys)
    assert (code, err) == (0, "")
    figures = json.loads(out)
    assert (figures["path"], figures["objects"], figures["logical_bytes"]) == ("s3proxy-data", 1, 5)
    assert run(["stats", "--json", "--data-dir", "s3proxy-data"], capsys) == (0, out, "")
    assert run(["stats", "--json", "--data-dir", "./s3proxy-data/"], capsys)[0] == 0


def test_stats_config_needs_no_secret(bare_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored_object(bare_dir / "store")
    config = bare_dir / "refs.yaml"
    refs = {**SECRET_REFS, "upstreams": {"main": {"type": "local", "path": "store"}}}
    config.write_text(yaml.safe_dump(refs))
    code, out, err = run(["stats", "--config", "refs.yaml", "--json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out)["objects"] == 1
