"""Loading settings: YAML file, ``S3PROXY_A__B`` environment overrides, CLI overrides, and
``env:NAME`` / ``file:PATH`` secret references, resolved before validation so that errors name
the field and never show a secret."""

from __future__ import annotations

import copy
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.parser import ParserError
from yaml.scanner import ScannerError

from s3proxy.config.models import ENV_PREFIX, MASK, ConfigError, Settings
from s3proxy.config.yaml_file import RefusedYaml, parse_yaml_value, read_config_yaml

MIN_SECRET_BYTES = 32
"""server.secret signs upload ids and listing tokens (HMAC-SHA256): 32 bytes is the hash's
own strength. Shorter ones still load — refusing them at start-up would break a running
deployment on upgrade — but ``check-config`` refuses them and ``serve`` warns."""
HOW_TO_SET_SECRET = (
    "set server.secret in the configuration, or S3PROXY_SERVER__SECRET in the environment,"
    f" to the same value of {MIN_SECRET_BYTES}+ bytes on every replica"
    " (e.g. `openssl rand -hex 32`)"
)


def weak_secret(settings: Settings) -> str | None:
    """Why ``server.secret`` is too weak to sign tokens; None when it is strong or unset."""
    secret = settings.server.secret
    if secret is None:
        return None
    size = len(secret.get_secret_value().encode("utf-8"))
    if size >= MIN_SECRET_BYTES:
        return None
    return f"server.secret is {size} bytes long, at least {MIN_SECRET_BYTES} are needed"


def load_settings(
    path: Path | None,
    env: Mapping[str, str] = os.environ,
    overrides: Mapping[str, Any] | None = None,
    *,
    secrets: bool = True,
) -> Settings:
    """YAML file, then ``S3PROXY_A__B`` variables of ``env``, then ``overrides``; validated.

    ``env:NAME`` secret references are looked up in ``env`` too. ``secrets=False`` puts
    ``UNRESOLVED_SECRET`` in place of every ``env:``/``file:`` reference, reading none: for
    commands that need only the layout or paths (``locate``, ``stats``), which an unset variable
    must not stop.
    """
    if path is None:
        return validate_settings({}, env, overrides, Path.cwd(), secrets=secrets)
    data = read_config_yaml(path)
    return validate_settings(data, env, overrides, path.absolute().parent, secrets=secrets)


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
    required = ["ACCESS_KEY", "SECRET_KEY"]
    upstream_keys = ("UPSTREAM_ACCESS_KEY", "UPSTREAM_SECRET_KEY")
    if any(env.get(f"S3PROXY_{name}") for name in upstream_keys):
        required += upstream_keys  # both, or neither: the AWS credential chain
    missing = [f"S3PROXY_{name}" for name in required if not env.get(f"S3PROXY_{name}")]
    if missing:
        raise ConfigError("\n".join(f"{name}: environment variable is not set" for name in missing))
    upstream = {
        "endpoint": upstream_url,
        "region": env.get("S3PROXY_UPSTREAM_REGION") or "us-east-1",
    }
    if env.get("S3PROXY_UPSTREAM_ACCESS_KEY"):
        upstream["access_key"] = env["S3PROXY_UPSTREAM_ACCESS_KEY"]
        upstream["secret_key"] = env["S3PROXY_UPSTREAM_SECRET_KEY"]
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
    return validate_settings(data, env, overrides, Path.cwd())


def effective_config_yaml(settings: Settings) -> str:
    """The configuration as YAML with defaults filled in and every secret shown as ``********``."""
    data = _plain(settings.model_dump(mode="python"))
    for name, layout in settings.tenant_layouts().items():
        if layout.home is not None:
            data["tenants"][name]["home"]["prefix"] = layout.home.prefix
    for name, owner in settings.owner_ids().items():
        data["tenants"][name]["owner_id"] = owner
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


def validate_settings(
    data: dict[str, Any],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] | None,
    base: Path,
    *,
    secrets: bool = True,
) -> Settings:
    data = copy.deepcopy(data)
    _apply_env(data, env)
    _merge(data, overrides or {})
    data = _resolve_refs(data, env, base, secrets)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        # `from None`: str(ValidationError) shows input values, secrets included.
        raise ConfigError(_format_errors(exc)) from None


def _format_errors(exc: ValidationError) -> str:
    """One line per field. A value that fits no member of a union (``server.workers``: a number
    or ``auto``) is one line too, its members' complaints joined with "or": pydantic gives one
    error per member, each under a location naming the member ("server.workers.literal['auto']"),
    which reads as a key the operator never wrote."""
    lines: list[str] = []
    branches: dict[str, int] = {}
    for error in exc.errors(include_url=False, include_input=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        message = str(ctx["error"]) if error["type"] == "value_error" else error["msg"]
        if loc and _names_a_member(loc):
            path = _dotted(loc[:-1])
            if path in branches:
                index = branches[path]
                lines[index] += ", or " + message.removeprefix("Input should be ")
                continue
            branches[path] = len(lines)
        else:
            path = _dotted(loc)
        lines.append(f"{path}: {message}" if path else message)
    return "\n".join(lines)


def _names_a_member(loc: tuple[int | str, ...]) -> bool:
    """Whether ``loc`` ends in a union member's name under a field of the settings that is a
    union of plain types (``server.workers``), found by walking the model: by its name alone
    (``constrained-…``, ``literal[…]``) a tenant or an upstream named so was folded too."""
    tp: Any = Settings
    for part in loc[:-1]:
        tp = _member(tp, part) or _child(tp, str(part))
        if tp is None:
            return False
    tp = _unwrap(tp)
    if get_origin(tp) not in (Union, types.UnionType):
        return False
    members = [_unwrap(arg) for arg in get_args(tp)]
    return not any(isinstance(member, type) and issubclass(member, BaseModel) for member in members)


def _member(tp: Any, part: int | str) -> Any:
    """The member of the tagged union ``tp`` (the upstream types) whose tag is ``part``."""
    tp = _unwrap(tp)
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    for arg in get_args(tp):
        if get_origin(arg) is Annotated and any(
            getattr(meta, "tag", None) == part for meta in get_args(arg)[1:]
        ):
            return get_args(arg)[0]
    return None


def _dotted(loc: tuple[int | str, ...] | list[int | str]) -> str:
    path = ""
    for part in loc:
        if part in ("[key]", "s3", "local") and path.startswith("upstreams."):
            # pydantic's marker for an invalid dict key, or the upstream's type tag
            if part == "[key]" or path.count(".") == 1:
                continue
        elif part == "[key]":  # pydantic's marker for an invalid dict key: the path names it
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
    """The type at ``segment`` below ``tp``; None when unknown. In a union of models (the
    upstream types) the first model with that field decides."""
    tp = _unwrap(tp)
    if get_origin(tp) in (Union, types.UnionType):
        found = (_child(arg, segment) for arg in get_args(tp))
        return next((child for child in found if child is not None), None)
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
    if get_origin(tp) in (Union, types.UnionType):
        return any(_is_section(arg) for arg in get_args(tp))
    model = isinstance(tp, type) and issubclass(tp, BaseModel)
    return tp is None or model or get_origin(tp) in (dict, list)


def _is_text(tp: Any) -> bool:
    tp = _unwrap(tp)
    if get_origin(tp) is Literal:
        return all(isinstance(arg, str) for arg in get_args(tp))
    return tp in _TEXT_TYPES


def _env_value(name: str, raw: str, tp: Any) -> Any:
    # Text fields take the value verbatim: a secret like "0123" or "*x" is not YAML.
    if raw == "" or _is_text(tp):
        return raw
    try:
        return parse_yaml_value(raw)
    except RefusedYaml as exc:  # a duplicate key, an alias bomb: never "the last one wins"
        raise ConfigError(f"{name}: invalid YAML{_yaml_where(exc)}: {_yaml_problem(exc)}") from None
    except yaml.YAMLError as exc:
        if _unwrap(tp) is None or not _is_section(tp):
            return raw  # a scalar: pydantic names the type it wanted
        # A list or mapping cannot be the raw text: say where the YAML breaks, not "should be
        # a valid list"; never PyYAML's own words, which quote the value ("found undefined
        # alias '<secret>'" for an unquoted secret starting with "*").
        raise ConfigError(f"{name}: invalid YAML{_yaml_where(exc)}: {_yaml_problem(exc)}") from None


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    line = f"line {mark.line + 1}, " if mark.line else ""
    return f" at {line}column {mark.column + 1}"


_YAML_PROBLEMS: tuple[tuple[type[yaml.YAMLError], str], ...] = (
    (ScannerError, "a character or token YAML cannot read"),
    (
        ParserError,
        "the structure breaks (an unclosed bracket or quote, a missing comma)",
    ),
    (ComposerError, "an alias or anchor that cannot be resolved"),
    (ConstructorError, "a tag or key YAML cannot construct"),
)
"""Fixed words per PyYAML error class: an override's value may be a secret, so no text of it
(a token, an alias, a tag, a key) is ever printed, only where it breaks."""


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, RefusedYaml):
        # Our own refusals are fixed texts, except the duplicate key, which names the key.
        return "a duplicate key" if exc.problem.startswith("duplicate key") else exc.problem
    for kind, problem in _YAML_PROBLEMS:
        if isinstance(exc, kind):
            return problem
    return "not valid YAML"


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for name in sorted(env):  # sorted: a parent ("…__HOME") is set before its children
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            _refuse_single_underscore(name)
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
                node[key] = _env_value(name, env[name], tp)
            node = node[key]


def _refuse_single_underscore(name: str) -> None:
    """``S3PROXY_SERVER_PORT`` (one ``_`` where the path needs ``__``) would otherwise be
    skipped like the quick start's own variables, and the setting silently not applied. No
    variable of the gateway starts with a section's name and one underscore."""
    if not name.startswith(ENV_PREFIX) or "__" in name:
        return
    rest = name[len(ENV_PREFIX) :]
    for section in Settings.model_fields:
        head = f"{section.upper()}_"
        if rest.upper().startswith(head) and len(rest) > len(head):
            field = rest[len(head) :]
            raise ConfigError(
                f"{name}: not applied: the path's segments are joined by '__'"
                f" (did you mean {ENV_PREFIX}{rest[: len(section)]}__{field}?)"
            )


UNRESOLVED_SECRET = "unresolved-secret-reference"
"""What an ``env:``/``file:`` reference becomes when secrets are not resolved; long enough
for every secret field's validation, and never a usable credential."""


def _resolve_refs(data: Any, env: Mapping[str, str], base: Path, secrets: bool = True) -> Any:
    """Replace ``env:``/``file:`` references in secret fields; anchor relative paths at ``base``.

    Every unresolvable reference is reported, each naming its field.
    """
    problems: list[str] = []

    def walk(value: Any, tp: Any, loc: tuple[Any, ...]) -> Any:
        inner = _unwrap(tp)
        if inner is SecretStr and isinstance(value, str):
            if not secrets and value.startswith(("env:", "file:")):
                return UNRESOLVED_SECRET
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
