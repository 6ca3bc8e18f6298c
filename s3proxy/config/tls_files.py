"""Checking ``server.tls_cert`` / ``server.tls_key`` when the configuration is read.

Both engines load the pair only as they start serving, in every worker: a file that held no
PEM certificate, a key that did not match it, or one encrypted with a passphrase passed
``check-config`` and then failed each worker with an ``ssl.SSLError`` traceback ("[SSL] PEM
lib", naming neither file), or, with an encrypted key on a terminal, stopped at OpenSSL's
passphrase prompt. Loading the pair here, as the server will, makes each of these one line
naming the field, at ``check-config``, at start and at a reload.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path


def _no_passphrase() -> bytes:
    """The answer to an encrypted key's passphrase request: none (the server has none to give
    either), so such a key fails here instead of prompting on the terminal."""
    return b""


def pair_problems(cert: Path, key: Path) -> Iterator[str]:
    """What keeps ``cert`` and ``key`` from serving TLS, one line per problem, naming the field."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=_no_passphrase)
    except ssl.SSLError as exc:
        if not _holds_certificate(cert):
            yield f"server.tls_cert: '{cert}' holds no PEM certificate"
        elif exc.reason == "KEY_VALUES_MISMATCH":
            yield f"server.tls_key: '{key}' is not the private key of server.tls_cert"
        else:
            yield (
                f"server.tls_key: '{key}' holds no usable PEM private key (an encrypted key "
                "cannot be used: the server has no passphrase to give it)"
            )
    except OSError as exc:  # unreadable (permissions): which one, the errno does not say
        for field, path in (("tls_cert", cert), ("tls_key", key)):
            try:
                path.read_bytes()
            except OSError as failed:
                yield f"server.{field}: cannot read '{path}': {failed.strerror or failed}"
                return
        yield f"server.tls_cert: cannot load the certificate and key: {exc.strerror or exc}"


def _holds_certificate(cert: Path) -> bool:
    try:
        text = cert.read_bytes()
    except OSError:
        return False
    return b"-----BEGIN " in text and b"CERTIFICATE-----" in text
