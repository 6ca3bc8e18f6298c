"""Field types shared by the settings models: names, secrets, prefixes, bucket names, ports.

Each type carries its own validation message, so an error names the field and the rule and
never quotes the value (a secret, or an endpoint with credentials, must not reach a log).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from s3proxy.owner import OWNER_ID_RE

ENV_PREFIX = "S3PROXY_"
MASK = "********"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
CLIENT_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ConfigError(Exception):
    """An invalid configuration; the message names each bad field, one per line."""


def rule(ok: Callable[[Any], object], message: str) -> AfterValidator:
    """A validator that rejects a value with ``message`` (which must not quote a secret)."""

    def check(value: Any) -> Any:
        if not ok(value):
            raise ValueError(message)
        return value

    return AfterValidator(check)


def _domain(value: str) -> str:
    domain = value.strip().strip(".").lower()
    if not domain or "/" in domain or ":" in domain:
        raise ValueError("each domain must be a host name such as 's3.example.com'")
    return domain


Name = Annotated[str, rule(NAME_RE.fullmatch, f"invalid name: must match ^{NAME_RE.pattern}$")]
Secret = Annotated[SecretStr, rule(lambda s: s.get_secret_value(), "must not be empty")]
ClientSecret = Annotated[
    SecretStr, rule(lambda s: len(s.get_secret_value()) >= 8, "must be at least 8 characters")
]
Prefix = Annotated[str, rule(lambda p: p == "" or p.endswith("/"), "must end with '/'")]
ClientBucket = Annotated[
    str,
    rule(
        lambda b: CLIENT_BUCKET_RE.fullmatch(b) and ".." not in b,
        "invalid bucket name: 3-63 lowercase letters, digits, '.' and '-'",
    ),
]
AccessKey = Annotated[
    str,
    Field(min_length=3, max_length=128),
    rule(lambda k: not set(k) & set(" \t\n/:,"), "must not contain whitespace, '/', ':' or ','"),
]
UPSTREAM_BUCKET_RE = re.compile(r"[A-Za-z0-9_.-]{1,255}")
UpstreamBucket = Annotated[
    str,
    rule(
        lambda b: UPSTREAM_BUCKET_RE.fullmatch(b) and b.strip("."),
        "must be a bucket name",  # letters, digits, '.', '_' and '-'
    ),
]
"""An upstream's bucket: S3's rules and the older, looser ones stores still accept (upper case,
'_', up to 255), but nothing that would change the request's URL or signature (a space, '?',
'#', '%', '/') or name a directory ('.', '..'): those were taken and failed at the first
request, far from the configuration."""
REGION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
Region = Annotated[
    str,
    rule(REGION_RE.fullmatch, "must be a region name such as 'us-east-1' (letters, digits, '-')"),
]
"""A region, signed in every request's credential scope (``date/region/s3/aws4_request``): a
'/' or a space there made every signature fail, with nothing naming the setting."""


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):  # YAML's true is an int to pydantic: port 1
        raise ValueError("must be a port number (0-65535), not true or false")
    return value


OwnerId = Annotated[
    str, rule(OWNER_ID_RE.fullmatch, 'must be 12 digits, quoted in YAML ("012345678901")')
]
Port = Annotated[int, BeforeValidator(_not_a_bool), Field(ge=0, le=65535)]
Domain = Annotated[str, AfterValidator(_domain)]


class FrozenModel(BaseModel):
    """Every settings model: immutable once loaded, and an unknown field is an error (a typo
    must not silently fall back to a default). A number is finite: YAML's ``.inf`` is no
    timeout, wait or limit (``shutdown_timeout: .inf`` would drain forever, ``max_wait: .inf``
    queue a request for good), and ``.nan`` compares false with every bound."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
