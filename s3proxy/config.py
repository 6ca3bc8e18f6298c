"""Settings: frozen pydantic models, loaded from YAML, then ``S3PROXY_A__B`` env overrides, then
CLI flags; secrets may be written as ``env:NAME`` or ``file:PATH``.

Relative paths (``file:`` references, ``server.tls_cert``/``tls_key``) are relative to the config
file's directory, or to the working directory when there is no file. Error messages name the
field (``tenants.alice.home.upstream: unknown upstream 'x'``) and never contain a secret.
"""

from __future__ import annotations

import copy
import os
import re
import types
from collections.abc import Callable, Iterator, Mapping
from itertools import combinations
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from s3proxy.layout import SHARD_COUNTS, TenantLayout, UpstreamRoot

ENV_PREFIX = "S3PROXY_"
MASK = "********"
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
CLIENT_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class ConfigError(Exception):
    """An invalid configuration; the message names each bad field, one per line."""


def _rule(ok: Callable[[Any], object], message: str) -> AfterValidator:
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


Name = Annotated[str, _rule(NAME_RE.fullmatch, f"invalid name: must match ^{NAME_RE.pattern}$")]
Secret = Annotated[SecretStr, _rule(lambda s: s.get_secret_value(), "must not be empty")]
ClientSecret = Annotated[
    SecretStr, _rule(lambda s: len(s.get_secret_value()) >= 8, "must be at least 8 characters")
]
Prefix = Annotated[str, _rule(lambda p: p == "" or p.endswith("/"), "must end with '/'")]
ClientBucket = Annotated[
    str,
    _rule(
        lambda b: CLIENT_BUCKET_RE.fullmatch(b) and ".." not in b,
        "invalid bucket name: 3-63 lowercase letters, digits, '.' and '-'",
    ),
]
AccessKey = Annotated[
    str,
    Field(min_length=3, max_length=128),
    _rule(lambda k: not set(k) & set(" \t\n/:,"), "must not contain whitespace, '/', ':' or ','"),
]
UpstreamBucket = Annotated[str, _rule(lambda b: b and "/" not in b, "must be a bucket name")]
Port = Annotated[int, Field(ge=0, le=65535)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ServerConfig(_Frozen):
    host: str = "127.0.0.1"
    port: Port = 9000
    admin_host: str = "127.0.0.1"
    admin_port: Port = 9001
    region: str = Field(default="us-east-1", min_length=1)
    strict_region: bool = False
    virtual_host_domains: list[Annotated[str, AfterValidator(_domain)]] = []
    secret: Secret | None = None
    """HMAC secret for tokens; must be the same on every replica."""
    max_skew_seconds: int = Field(default=900, ge=1)
    shutdown_timeout: float = Field(default=30.0, ge=0)
    tls_cert: Path | None = None
    tls_key: Path | None = None


class UpstreamConfig(_Frozen):
    endpoint: str
    region: str = Field(default="us-east-1", min_length=1)
    access_key: Secret
    secret_key: Secret
    path_style: bool = True
    max_connections: int = Field(default=128, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=300.0, gt=0)
    verify_tls: bool = True

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        # Never echo the value: an endpoint may carry user:password.
        message = "must be an http:// or https:// URL without credentials"
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 — raises ValueError on a bad port
        except ValueError:
            raise ValueError(message) from None
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError(message)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be a bare http(s)://host[:port] URL, without path or query")
        return f"{parts.scheme}://{parts.netloc}"


class KeyPair(_Frozen):
    access_key: AccessKey
    secret_key: ClientSecret


class HomeConfig(_Frozen):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix | None = None
    """None means ``"<tenant>/"``; ``""`` puts the tenant's buckets at the bucket's top level."""


class BucketMapping(_Frozen):
    upstream: str
    bucket: UpstreamBucket
    prefix: Prefix = ""


class TenantConfig(_Frozen):
    keys: list[KeyPair] = Field(min_length=1)
    home: HomeConfig | None = None
    buckets: dict[ClientBucket, BucketMapping] = {}


class LayoutConfig(_Frozen):
    shards: Annotated[int, _rule(SHARD_COUNTS.__contains__, "must be 1, 16, 256 or 4096")] = 16


class LoggingConfig(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True


class Settings(_Frozen):
    server: ServerConfig = Field(default_factory=ServerConfig)
    upstreams: dict[Name, UpstreamConfig]
    tenants: dict[Name, TenantConfig]
    layout: LayoutConfig = Field(default_factory=LayoutConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    _layouts: dict[str, TenantLayout] = PrivateAttr(default_factory=dict)
    _secrets: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)
    _built_from: object = PrivateAttr(None)

    @model_validator(mode="after")
    def _cross_check(self) -> Settings:
        problems = [*self._check_server(), *self._check_tenants(), *self._check_overlaps()]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _check_server(self) -> Iterator[str]:
        server = self.server
        if (server.tls_cert is None) != (server.tls_key is None):
            missing = "tls_key" if server.tls_key is None else "tls_cert"
            yield f"server.{missing}: tls_cert and tls_key must be given together"
        for field in ("tls_cert", "tls_key"):
            path = getattr(server, field)
            if path is not None and not path.is_file():
                yield f"server.{field}: no such file '{path}'"
        same_host = server.host == server.admin_host
        if same_host and server.port == server.admin_port and server.port != 0:
            yield f"server.admin_port: the same as server.port ({server.port})"

    def _check_tenants(self) -> Iterator[str]:
        if not self.tenants:
            yield "tenants: at least one tenant is required"
        owners: dict[str, str] = {}
        for name, tenant in self.tenants.items():
            if tenant.home is not None and tenant.home.upstream not in self.upstreams:
                yield f"tenants.{name}.home.upstream: unknown upstream {tenant.home.upstream!r}"
            for bucket, mapping in tenant.buckets.items():
                if mapping.upstream not in self.upstreams:
                    path = f"tenants.{name}.buckets.{bucket}.upstream"
                    yield f"{path}: unknown upstream {mapping.upstream!r}"
            for index, pair in enumerate(tenant.keys):
                here = f"tenants.{name}.keys[{index}].access_key"
                first = owners.setdefault(pair.access_key, here)
                if first != here:
                    yield f"{here}: access key {pair.access_key!r} is already used at {first}"

    def _check_overlaps(self) -> Iterator[str]:
        """No two tenants' roots on one upstream bucket may contain one another.

        A home's root is its prefix (its client buckets live below it), so a mapping inside
        another tenant's home prefix is an overlap too. A tenant's own roots may nest.
        """
        roots: list[tuple[str, str, UpstreamRoot]] = []
        for name, layout in _build_layouts(self.tenants).items():
            if layout.home is not None:
                roots.append((f"tenants.{name}.home", name, layout.home))
            for bucket, root in layout.buckets.items():
                roots.append((f"tenants.{name}.buckets.{bucket}", name, root))
        for (first, owner, one), (path, tenant, root) in combinations(roots, 2):
            same_bucket = (root.upstream, root.bucket) == (one.upstream, one.bucket)
            nested = root.prefix.startswith(one.prefix) or one.prefix.startswith(root.prefix)
            if tenant != owner and same_bucket and nested:
                where = f"{root.upstream}:{root.bucket}/{root.prefix}"
                yield f"{path}: upstream root {where} overlaps {first} ({one.bucket}/{one.prefix})"

    def model_post_init(self, context: Any, /) -> None:
        self._build()

    def _build(self) -> None:
        self._layouts = _build_layouts(self.tenants)
        self._secrets = {
            pair.access_key: (name, pair.secret_key.get_secret_value())
            for name, tenant in self.tenants.items()
            for pair in tenant.keys
        }
        self._built_from = self.tenants

    def _fresh(self) -> None:
        if self._built_from is not self.tenants:  # model_copy(update={"tenants": …}) keeps privates
            self._build()

    def tenant_layouts(self) -> dict[str, TenantLayout]:
        self._fresh()
        return dict(self._layouts)

    def secret_for(self, access_key: str) -> tuple[str, str] | None:
        """(tenant name, secret key) of a client access key, or None when it is unknown."""
        self._fresh()
        return self._secrets.get(access_key)


def _build_layouts(tenants: Mapping[str, TenantConfig]) -> dict[str, TenantLayout]:
    layouts = {}
    for name, tenant in tenants.items():
        home = None
        if tenant.home is not None:
            prefix = f"{name}/" if tenant.home.prefix is None else tenant.home.prefix
            home = UpstreamRoot(tenant.home.upstream, tenant.home.bucket, prefix)
        buckets = {
            bucket: UpstreamRoot(mapping.upstream, mapping.bucket, mapping.prefix)
            for bucket, mapping in tenant.buckets.items()
        }
        layouts[name] = TenantLayout(name, home, types.MappingProxyType(buckets))
    return layouts


# --- loading -------------------------------------------------------------------------------


def load_settings(
    path: Path | None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """YAML file, then ``S3PROXY_A__B`` variables of ``env``, then ``overrides``; validated.

    ``env:NAME`` secret references are looked up in ``env`` too.
    """
    if path is None:
        return _validate({}, env, overrides, Path.cwd())
    return _validate(_read_yaml(path), env, overrides, path.absolute().parent)


def quick_start_settings(
    upstream_url: str,
    upstream_bucket: str,
    env: Mapping[str, str] = os.environ,
    *,
    host: str | None = None,
    port: int | None = None,
    admin_port: int | None = None,
    shards: int | None = None,
) -> Settings:
    """One upstream ``default`` and one tenant ``default`` homed at (upstream_bucket, default/)."""
    required = ("UPSTREAM_ACCESS_KEY", "UPSTREAM_SECRET_KEY", "ACCESS_KEY", "SECRET_KEY")
    missing = [f"S3PROXY_{name}" for name in required if not env.get(f"S3PROXY_{name}")]
    if missing:
        raise ConfigError("\n".join(f"{name}: environment variable is not set" for name in missing))
    upstream = {
        "endpoint": upstream_url,
        "region": env.get("S3PROXY_UPSTREAM_REGION") or "us-east-1",
        "access_key": env["S3PROXY_UPSTREAM_ACCESS_KEY"],
        "secret_key": env["S3PROXY_UPSTREAM_SECRET_KEY"],
    }
    tenant = {
        "keys": [
            {"access_key": env["S3PROXY_ACCESS_KEY"], "secret_key": env["S3PROXY_SECRET_KEY"]}
        ],
        "home": {"upstream": "default", "bucket": upstream_bucket, "prefix": "default/"},
    }
    server = {"secret": env["S3PROXY_SECRET"]} if env.get("S3PROXY_SECRET") else {}
    data = {"server": server, "upstreams": {"default": upstream}, "tenants": {"default": tenant}}
    flags = {"host": host, "port": port, "admin_port": admin_port}
    overrides: dict[str, Any] = {"server": {k: v for k, v in flags.items() if v is not None}}
    if shards is not None:
        overrides["layout"] = {"shards": shards}
    return _validate(data, env, overrides, Path.cwd())


def effective_config_yaml(settings: Settings) -> str:
    """The configuration as YAML with defaults filled in and every secret shown as ``********``."""
    data = _plain(settings.model_dump(mode="python"))
    for name, layout in settings.tenant_layouts().items():
        if layout.home is not None:
            data["tenants"][name]["home"]["prefix"] = layout.home.prefix
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Never str(exc): PyYAML quotes the offending line, which may hold a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _validate(
    data: dict[str, Any], env: Mapping[str, str], overrides: Mapping[str, Any] | None, base: Path
) -> Settings:
    data = copy.deepcopy(data)
    _apply_env(data, env)
    _merge(data, overrides or {})
    data = _resolve_refs(data, env, base)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        # `from None`: str(ValidationError) shows input values, secrets included.
        raise ConfigError(_format_errors(exc)) from None


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        path = _dotted(error["loc"])
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if error["type"] == "value_error" else error["msg"]
        lines.append(f"{path}: {message}" if path else message)
    return "\n".join(lines)


def _dotted(loc: tuple[int | str, ...] | list[int | str]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid dict key: the path names it
            continue
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


# --- env overrides and secret references, guided by the models' field types ------------------

_TEXT_TYPES = (str, SecretStr, Path)


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, …]`` and ``X | None`` → ``X``."""
    if get_origin(tp) is Annotated:
        return _unwrap(get_args(tp)[0])
    if get_origin(tp) in (Union, types.UnionType):
        args = [arg for arg in get_args(tp) if arg is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def _child(tp: Any, segment: str) -> Any:
    """The type at ``segment`` below ``tp``; None when unknown."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(segment)
        return field.annotation if field is not None else None
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        return get_args(tp)[0]
    return None


def _is_section(tp: Any) -> bool:
    """Whether a value of ``tp`` has entries; None (an unknown field) is left to pydantic."""
    tp = _unwrap(tp)
    model = isinstance(tp, type) and issubclass(tp, BaseModel)
    return tp is None or model or get_origin(tp) in (dict, list)


def _is_text(tp: Any) -> bool:
    tp = _unwrap(tp)
    if get_origin(tp) is Literal:
        return all(isinstance(arg, str) for arg in get_args(tp))
    return tp in _TEXT_TYPES


def _env_value(raw: str, tp: Any) -> Any:
    # Text fields take the value verbatim: a secret like "0123" or "*x" is not YAML.
    if raw == "" or _is_text(tp):
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name in sorted(env):  # sorted: a parent ("…__HOME") is set before its children
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue  # e.g. S3PROXY_ACCESS_KEY belongs to the quick start
        segments = name.removeprefix(ENV_PREFIX).lower().split("__")
        tp: Any = Settings
        node: Any = data
        for depth, segment in enumerate(segments):
            tp = _child(tp, segment)
            last = depth == len(segments) - 1
            if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
                key: Any = int(segment)
            elif isinstance(node, dict) and segment and (last or _is_section(tp)):
                key = segment
                if not last and not isinstance(node.get(key), dict | list):
                    node[key] = {}
            else:
                where = ".".join(segments[:depth]) or "the configuration"
                raise ConfigError(f"{name}: {where} has no entry {segment!r} to override")
            if last:
                node[key] = _env_value(env[name], tp)
            node = node[key]


def _resolve_refs(data: Any, env: Mapping[str, str], base: Path) -> Any:
    """Replace ``env:``/``file:`` references in secret fields; anchor relative paths at ``base``.

    Every unresolvable reference is reported, each naming its field.
    """
    problems: list[str] = []

    def walk(value: Any, tp: Any, loc: tuple[Any, ...]) -> Any:
        inner = _unwrap(tp)
        if inner is SecretStr and isinstance(value, str):
            try:
                return _secret_ref(value, env, base)
            except ConfigError as exc:
                problems.append(f"{_dotted(loc)}: {exc}")
                return value
        if inner is Path and isinstance(value, str) and value:
            return str(base / Path(value).expanduser())
        if isinstance(value, dict):
            return {k: walk(v, _child(inner, str(k)), (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, _child(inner, str(i)), (*loc, i)) for i, v in enumerate(value)]
        return value

    resolved = walk(data, Settings, ())
    if problems:
        raise ConfigError("\n".join(problems))
    return resolved


def _secret_ref(value: str, env: Mapping[str, str], base: Path) -> str:
    if value.startswith("env:"):
        variable = value[4:]
        if variable not in env:
            raise ConfigError(f"environment variable {variable!r} is not set")
        return env[variable]
    if value.startswith("file:"):
        path = base / Path(value[5:]).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read secret file '{path}': {reason}") from None
        return content.removesuffix("\n").removesuffix("\r")
    return value
