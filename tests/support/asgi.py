"""ASGI HTTP scopes as Hypercorn hands them to the app, for pure routing and parsing tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def http_scope(
    method: str, path: str, query: str = "", headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A scope for ``method path?query`` with ``headers`` (names lower-cased) and a Host."""
    raw = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    raw.append((b"host", b"127.0.0.1:9000"))
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": raw,
    }
