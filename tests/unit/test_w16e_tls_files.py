"""A TLS certificate or key that cannot serve fails when the configuration is read (wave 16, E).

``check-config`` took any existing files as ``server.tls_cert`` / ``tls_key``; ``serve`` then
failed in every worker with an ``ssl.SSLError`` traceback ("[SSL] PEM lib", naming neither
file), and an encrypted key could stop it at OpenSSL's passphrase prompt. Each is now one
line naming the field (s3proxy.config.tls_files)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from s3proxy.config import ConfigError, load_settings

BASE = {
    "S3PROXY_UPSTREAMS__MAIN__ENDPOINT": "http://127.0.0.1:8333",
    "S3PROXY_TENANTS__T1__KEYS": "[{access_key: AKT1, secret_key: t1-secret-key}]",
    "S3PROXY_TENANTS__T1__HOME": "{upstream: main, bucket: data}",
}


@pytest.fixture(scope="module")
def pems(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pems")
    files: dict[str, Path] = {}
    for name in ("one", "two"):
        issued = trustme.CA().issue_cert("localhost")
        files[f"{name}.crt"] = folder / f"{name}.crt"
        files[f"{name}.key"] = folder / f"{name}.key"
        issued.cert_chain_pems[0].write_to_path(str(files[f"{name}.crt"]))
        issued.private_key_pem.write_to_path(str(files[f"{name}.key"]))
    files["junk"] = folder / "junk.pem"
    files["junk"].write_text("not a pem\n")
    key = serialization.load_pem_private_key(files["one.key"].read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    files["encrypted.key"] = folder / "encrypted.key"
    files["encrypted.key"].write_bytes(encrypted)
    return files


def _error(cert: Path, key: Path) -> str:
    env = {**BASE, "S3PROXY_SERVER__TLS_CERT": str(cert), "S3PROXY_SERVER__TLS_KEY": str(key)}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env=env)
    return str(caught.value)


def test_a_matching_pair_is_taken(pems: dict[str, Path]) -> None:
    env = {
        **BASE,
        "S3PROXY_SERVER__TLS_CERT": str(pems["one.crt"]),
        "S3PROXY_SERVER__TLS_KEY": str(pems["one.key"]),
    }
    assert load_settings(None, env=env).server.tls_cert == pems["one.crt"]


@pytest.mark.parametrize(
    ("cert", "key", "expected"),
    [
        ("junk", "one.key", "server.tls_cert: '{cert}' holds no PEM certificate"),
        ("one.key", "one.key", "server.tls_cert: '{cert}' holds no PEM certificate"),
        ("one.crt", "two.key", "server.tls_key: '{key}' is not the private key of"),
        ("one.crt", "junk", "server.tls_key: '{key}' holds no usable PEM private key"),
        ("one.crt", "encrypted.key", "server.tls_key: '{key}' holds no usable PEM private key"),
    ],
)
def test_a_pair_that_cannot_serve_is_one_line_naming_the_field(
    pems: dict[str, Path], cert: str, key: str, expected: str
) -> None:
    message = _error(pems[cert], pems[key])
    assert expected.format(cert=pems[cert], key=pems[key]) in message
    assert "Traceback" not in message and "PEM lib" not in message
