"""Opaque, HMAC-bound tokens handed to clients (listing continuation tokens, later upload ids).

A token carries its payload in the clear (base64url JSON) plus an HMAC over a purpose, the
values it is bound to (tenant, bucket, …) and the payload, with the server secret. Any replica
sharing the secret accepts it; a token replayed against another bucket or tenant fails to
verify. Tokens hold nothing secret: never put upstream names in a payload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

MAC_BYTES = 16


def _mac(secret: str, purpose: str, binding: Sequence[str], payload: bytes) -> bytes:
    message = "\x00".join((purpose, *binding)).encode("utf-8", "surrogatepass") + b"\x00" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()[:MAC_BYTES]


def issue(secret: str, purpose: str, binding: Sequence[str], payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    blob = _mac(secret, purpose, binding, raw) + raw
    return base64.urlsafe_b64encode(blob).decode().rstrip("=")


def verify(secret: str, purpose: str, binding: Sequence[str], token: str) -> dict[str, Any] | None:
    """The payload, or None when the token is malformed or bound to something else."""
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    mac, raw = blob[:MAC_BYTES], blob[MAC_BYTES:]
    if len(mac) != MAC_BYTES or not hmac.compare_digest(mac, _mac(secret, purpose, binding, raw)):
        return None
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
