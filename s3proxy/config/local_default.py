"""The zero-config start: ``s3proxy serve`` with no upstream serves the embedded local store.

Why a module of its own: this is the only place the proxy writes configuration state to disk.
A first-time user gets working credentials without writing a config file, and the same ones
after a restart (they are kept, mode 0600, in the data directory next to the objects); the server
secret is kept there too, so multipart upload ids and listing tokens survive a restart. The
upstream quick start (``serve --upstream``) keeps its generated server secret the same way, in
its state directory (``--state-dir``, ``./s3proxy-state`` by default).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from s3proxy.config.loading import MIN_SECRET_BYTES, validate_settings
from s3proxy.config.models import ConfigError, LocalStoreConfig, Settings
from s3proxy.durable import fsync_directory
from s3proxy.startup import client_host, client_settings

DEFAULT_DATA_DIR = Path("s3proxy-data")
DEFAULT_STATE_DIR = Path("s3proxy-state")
CREDENTIALS_FILE = "credentials.json"
SECRET_FILE = "server-secret"
TENANT = "default"
STORE_BUCKET = "default"
_ACCESS_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True, slots=True)
class LocalDefault:
    settings: Settings
    banner: list[str]
    """What to tell the user at start-up: where the data is and how to sign in."""


def local_default_settings(
    data_dir: Path,
    env: Mapping[str, str] = os.environ,
    *,
    host: str | None = None,
    port: int | None = None,
    admin_port: int | None = None,
    shards: int | None = None,
) -> LocalDefault:
    """One local store at ``data_dir`` and one tenant ``default`` homed in it.

    Client keys come from ``S3PROXY_ACCESS_KEY``/``S3PROXY_SECRET_KEY`` when both are set,
    else from the data directory, generated on the first start.
    """
    data_dir = data_dir.expanduser().absolute()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--data-dir: cannot create '{data_dir}': {exc.strerror}") from None
    banner = [f"local store: {data_dir}"]
    first_start = False
    if env.get("S3PROXY_ACCESS_KEY") and env.get("S3PROXY_SECRET_KEY"):
        access_key, secret_key = env["S3PROXY_ACCESS_KEY"], env["S3PROXY_SECRET_KEY"]
        banner.append(f"access key: {access_key} (secret key from S3PROXY_SECRET_KEY)")
    else:
        access_key, secret_key, first_start = _credentials(data_dir / CREDENTIALS_FILE)
        if first_start:
            banner.append(f"access key: {access_key}")
            banner.append(f"secret key: {secret_key}")
            banner.append(f"(generated once; kept in {data_dir / CREDENTIALS_FILE})")
        else:
            banner.append(f"access key: {access_key} (secret key in {data_dir / CREDENTIALS_FILE})")
    data: dict[str, Any] = {
        "upstreams": {"local": {"type": "local", "path": str(data_dir)}},
        "tenants": {
            TENANT: {
                "keys": [{"access_key": access_key, "secret_key": secret_key}],
                "home": {"upstream": "local", "bucket": STORE_BUCKET, "prefix": f"{TENANT}/"},
            }
        },
    }
    if env.get("S3PROXY_SECRET"):
        data["server"] = {"secret": env["S3PROXY_SECRET"]}
    flags = {"host": host, "port": port, "admin_port": admin_port}
    overrides: dict[str, Any] = {"server": {k: v for k, v in flags.items() if v is not None}}
    if shards is not None:
        overrides["layout"] = {"shards": shards}
    settings = validate_settings(data, env, overrides, Path.cwd())
    if first_start:  # the user has no client set up yet: settings to paste, once
        server = settings.server
        endpoint = f"http://{client_host(server.host)}:{server.port}"
        banner.extend(client_settings(endpoint, access_key, secret_key, server.region))
    return LocalDefault(settings, banner)


def with_persistent_secret(settings: Settings) -> Settings:
    """``settings`` with ``server.secret`` read from (or first written to) the data directory of
    its only local store; unchanged when a secret is configured or there is no single store."""
    stores = [u for u in settings.upstreams.values() if isinstance(u, LocalStoreConfig)]
    if settings.server.secret is not None or len(stores) != 1:
        return settings
    # Not "--state-dir": that option is the upstream quick start's, not this store's.
    remedy = "make it a writable directory, or set server.secret"
    return with_secret_kept_in(settings, stores[0].path, remedy)


def with_secret_kept_in(
    settings: Settings,
    directory: Path,
    remedy: str = "give another --state-dir, or set S3PROXY_SERVER__SECRET",
) -> Settings:
    """``settings`` with ``server.secret`` read from ``directory/server-secret``, which is
    generated (64 hex digits, mode 0600) on the first start; unchanged when a secret is set.
    ``remedy``: what the error says to do when it cannot be kept there."""
    if settings.server.secret is not None:
        return settings
    path = directory / SECRET_FILE
    try:
        directory.mkdir(parents=True, exist_ok=True)
        secret = _read_or_create(path, lambda: secrets.token_hex(32))
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the server secret in '{directory}': {exc.strerror} ({remedy})"
        ) from None
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(f"'{path}' holds no usable server secret: remove it to generate one")
    server = settings.server.model_copy(update={"secret": SecretStr(secret)})
    return settings.model_copy(update={"server": server})


def _credentials(path: Path) -> tuple[str, str, bool]:
    created = not path.exists()

    def generate() -> str:
        access_key = "S3P" + "".join(secrets.choice(_ACCESS_KEY_ALPHABET) for _ in range(17))
        return json.dumps({"access_key": access_key, "secret_key": secrets.token_urlsafe(30)})

    try:
        pair = json.loads(_read_or_create(path, generate))
        return str(pair["access_key"]), str(pair["secret_key"]), created
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            f"'{path}' is not a credentials file: remove it to generate new keys"
        ) from None


def _read_or_create(path: Path, generate: Callable[[], str]) -> str:
    """The file's text; first written (mode 0600) when it does not exist. The value is written
    to a temporary file and hard-linked into place, so two processes starting together agree on
    one value and no reader ever sees a half-written file. The directory is synced once the link
    is made: without that, a power cut could take the file away after its keys were shown and
    used, and the next start would generate new ones (every client's keys would stop working).
    A temporary file a crash left behind is removed at each start (:func:`_remove_strays`)."""
    _remove_strays(path)
    for _ in range(3):  # a clean-up by another process starting at once may take the temp file
        if path.exists():
            break
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(generate() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temp, path)
            fsync_directory(path.parent)
        except FileExistsError:
            pass  # another process won: read its value
        except FileNotFoundError:
            continue  # the temp file was removed as a stray before it was linked: again
        finally:
            temp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def _remove_strays(path: Path) -> None:
    """Remove ``.<name>.<8 hex digits>`` files next to ``path``: the temporary files of
    :func:`_read_or_create` that a crash (or power cut) left before they were removed. Only that
    exact pattern: anything else in the directory (the store's own files) is not ours."""
    stray = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}")
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return
    for name in names:
        if stray.fullmatch(name):
            (path.parent / name).unlink(missing_ok=True)
