"""The command line: ``s3proxy serve | check-config | locate | stats``; ``main`` returns the exit
status.

Exit status 2 means the invocation or the configuration is wrong (the message says which).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from s3proxy import __version__
from s3proxy.config import (
    ConfigError,
    LocalStoreConfig,
    Settings,
    effective_config_yaml,
    load_settings,
    quick_start_settings,
)
from s3proxy.config.loading import HOW_TO_SET_SECRET, UNRESOLVED_SECRET, weak_secret
from s3proxy.config.local_default import (
    CREDENTIALS_FILE,
    DEFAULT_DATA_DIR,
    DEFAULT_STATE_DIR,
    SECRET_FILE,
    STORE_BUCKET,
    TENANT,
    local_default_settings,
    with_secret_kept_in,
)
from s3proxy.errors import S3Error
from s3proxy.layout import (
    KeyEncoding,
    TenantLayout,
    UpstreamRoot,
    layout_root,
    locate,
    shard_digits,
)
from s3proxy.quotas import Root, distinct_roots
from s3proxy.worker_count import UnusableMetricsDirectory, prepare_metrics, worker_count

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3proxy",
        description="An S3-compatible gateway: tenants, bucket mappings, hashed upstream keys.",
    )
    parser.add_argument("--version", action="version", version=f"s3proxy {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    serve.add_argument("--host", help="S3 listen address (server.host)")
    serve.add_argument("--port", type=int, help="S3 listen port (server.port)")
    serve.add_argument("--admin-port", type=int, help="admin listen port (server.admin_port)")
    serve.add_argument("--upstream", metavar="URL", help="quick start: the upstream endpoint")
    serve.add_argument("--upstream-bucket", metavar="NAME", help="quick start: the upstream bucket")
    serve.add_argument("--shards", type=int, help="layout.shards: 1, 16, 256 or 4096")
    serve.add_argument(
        "--workers",
        type=_workers,
        metavar="N|auto",
        help="processes serving the S3 port (server.workers; auto: one per usable CPU)",
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"without --config/--upstream: the local store's directory (./{DEFAULT_DATA_DIR})",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="quick start: where the generated server secret is kept, so upload ids survive"
        f" a restart (./{DEFAULT_STATE_DIR})",
    )

    check = commands.add_parser(
        "check-config", help="validate a configuration and print it, secrets masked"
    )
    check.add_argument("file", type=Path, metavar="FILE")

    stats = commands.add_parser(
        "stats", help="local store: objects, logical vs physical bytes (the dedup ratio)"
    )
    stats.add_argument("--config", type=Path, metavar="FILE", help="every local store in FILE")
    stats.add_argument(
        "--data-dir", type=Path, metavar="DIR", help=f"one local store (./{DEFAULT_DATA_DIR})"
    )
    stats.add_argument("--json", action="store_true", help="one JSON object per store")

    where = commands.add_parser(
        "locate",
        help="print where a client object lives upstream (offline; needs no secret)",
        description="The deployment is named as for serve: --config FILE, --upstream URL"
        f" --upstream-bucket NAME, or the local default (--data-dir, ./{DEFAULT_DATA_DIR}).",
    )
    where.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    where.add_argument("--upstream", metavar="URL", help="quick start: the upstream endpoint")
    where.add_argument("--upstream-bucket", metavar="NAME", help="quick start: the upstream bucket")
    where.add_argument("--shards", type=int, help="layout.shards: 1, 16, 256 or 4096")
    where.add_argument(
        "--data-dir", type=Path, metavar="DIR", help=f"the local store (./{DEFAULT_DATA_DIR})"
    )
    owner = where.add_mutually_exclusive_group()
    owner.add_argument("--tenant", metavar="NAME", help="the tenant (default: the only one)")
    owner.add_argument("--access-key", metavar="AK", help="the tenant owning this access key")
    where.add_argument(
        "--key-encoding",
        choices=["plain", "flat"],
        help="the encoding of the bucket's root (default: layout.key_encoding, else the one "
        "a new root gets on its upstream; a root written before encodings existed is plain)",
    )
    where.add_argument("bucket", metavar="BUCKET")
    where.add_argument("key", metavar="KEY")
    return parser


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    count = int(value)  # argparse turns the ValueError into a usage error
    if not 1 <= count <= 256:
        raise argparse.ArgumentTypeError("must be 1 to 256 or auto")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors: return, don't exit
        return exit_.code if isinstance(exit_.code, int) else USAGE_ERROR
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "check-config":
            return check_config(args.file)
        if args.command == "stats":
            return store_stats(args.config, args.data_dir, args.json)
        if args.command == "locate":
            return locate_object(args)
    except ConfigError as exc:
        return fail(f"invalid configuration:\n{exc}")
    parser.print_help(sys.stderr)
    return USAGE_ERROR


def fail(message: str) -> int:
    print(f"s3proxy: {message}", file=sys.stderr)
    return USAGE_ERROR


def serve(args: argparse.Namespace) -> int:
    problem = _mode_problem(args)
    if problem is not None:
        return fail(problem)
    if args.state_dir is not None and args.upstream is None:
        return fail("--state-dir is for the quick start with --upstream")
    settings: Settings
    overrides = _flag_overrides(args)  # a reload applies them again (s3proxy.server)
    if args.config is not None:
        settings = load_settings(args.config, overrides=overrides)
    elif args.upstream is not None:
        settings = quick_start_settings(
            args.upstream,
            args.upstream_bucket,
            host=args.host,
            port=args.port,
            admin_port=args.admin_port,
            shards=args.shards,
        )
        if settings.server.secret is None:
            state_dir = (args.state_dir or DEFAULT_STATE_DIR).expanduser().absolute()
            settings = with_secret_kept_in(settings, state_dir)
            print(
                f"s3proxy: server secret kept in {state_dir / SECRET_FILE}; to choose it,"
                f" {HOW_TO_SET_SECRET}",
                flush=True,
            )
    else:
        local = local_default_settings(
            args.data_dir or DEFAULT_DATA_DIR,
            host=args.host,
            port=args.port,
            admin_port=args.admin_port,
            shards=args.shards,
        )
        settings = local.settings
        server = settings.server
        print(f"s3proxy: S3 endpoint http://{server.host}:{server.port}", flush=True)
        for line in local.banner:
            print(f"s3proxy: {line}", flush=True)
    if args.workers is not None and args.config is None:  # with --config: in the overrides
        server = settings.server.model_copy(update={"workers": args.workers})
        settings = settings.model_copy(update={"server": server})
    try:  # before the server stack imports prometheus_client
        prepare_metrics(worker_count(settings))
    except UnusableMetricsDirectory as exc:
        return fail(str(exc))
    if args.upstream is not None:  # the quick start creates its upstream bucket when missing
        import asyncio

        from s3proxy.quick_start import ensure_upstream_buckets

        for line in asyncio.run(ensure_upstream_buckets(settings)):
            print(f"s3proxy: {line}", flush=True)
    from s3proxy.server import run  # lazily: the server stack is not needed to check a config

    return run(settings, args.config, overrides)


def _mode_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the flags naming the deployment (serve and locate share them)."""
    if args.config is not None and args.upstream is not None:
        return "give either --config FILE or --upstream URL, not both"
    if (args.upstream is None) != (args.upstream_bucket is None):
        return "--upstream URL and --upstream-bucket NAME go together"
    if args.data_dir is not None and (args.config is not None or args.upstream is not None):
        return "--data-dir is for the local default: not with --config or --upstream"
    return None


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings ``serve``'s flags give over the file's, at the start and at each reload:
    reloaded without them, a server started with ``--shards 256`` over a file naming none
    refused every SIGHUP ("layout changed")."""
    server = {
        "host": args.host,
        "port": args.port,
        "admin_port": args.admin_port,
        "workers": args.workers,
    }
    overrides: dict[str, Any] = {
        "server": {name: value for name, value in server.items() if value is not None}
    }
    if args.shards is not None:
        overrides["layout"] = {"shards": args.shards}
    return overrides


def check_config(path: Path) -> int:
    settings = load_settings(path)
    problem = weak_secret(settings)
    if problem is not None:
        return fail(f"invalid configuration:\n{problem}: {HOW_TO_SET_SECRET}")
    print(effective_config_yaml(settings), end="")
    return 0


def store_stats(config: Path | None, data_dir: Path | None, as_json: bool) -> int:
    if config is not None and data_dir is not None:
        return fail("give either --config FILE or --data-dir DIR, not both")
    if config is not None:
        settings = load_settings(config, secrets=False)  # paths only: no secret is needed
        stores = {
            name: upstream.path
            for name, upstream in settings.upstreams.items()
            if isinstance(upstream, LocalStoreConfig)
        }
        if not stores:
            return fail(f"{config} configures no local store")
        tenants = _tenant_roots(settings)
    else:
        stores = {"local": data_dir or DEFAULT_DATA_DIR}  # as serve's local default
        home = UpstreamRoot("local", STORE_BUCKET, f"{TENANT}/")
        tenants = {TENANT: (distinct_roots([home]), None, None)}
    from s3proxy.backends.local import read_stats, read_usage  # SQLite: only for this command

    for name, path in stores.items():
        if not path.is_dir():
            return fail(f"no local store at '{path}'")
        stats = read_stats(path)
        figures = {
            "store": name,
            "path": str(path),
            "objects": stats.objects,
            "logical_bytes": stats.logical_bytes,
            "physical_bytes": stats.physical_bytes,
            "blobs": stats.blobs,
            "dedup_ratio": round(stats.ratio, 3),
        }
        rows: dict[str, dict[str, int | None]] = {}
        for tenant, (roots, max_bytes, max_objects) in tenants.items():
            here = [(bucket, prefix) for upstream, bucket, prefix in roots if upstream == name]
            if here:
                usage = read_usage(path, here)
                rows[tenant] = {
                    "objects": usage.objects,
                    "bytes": usage.bytes,
                    "max_objects": max_objects,
                    "max_bytes": max_bytes,
                }
        if as_json:
            print(json.dumps({**figures, "tenants": rows}))
            continue
        print(
            f"{name} ({path}): {stats.objects} objects, {_size(stats.logical_bytes)} stored"
            f" in {stats.blobs} blobs taking {_size(stats.physical_bytes)}"
            f" (dedup ratio {stats.ratio:.2f})"
        )
        for tenant, row in rows.items():
            quota = ""
            if row["max_bytes"] is not None or row["max_objects"] is not None:
                of_bytes = "-" if row["max_bytes"] is None else _size(row["max_bytes"])
                quota = f" (quota: {of_bytes}, {row['max_objects'] or '-'} objects)"
            print(f"  tenant {tenant}: {row['objects']} objects, {_size(row['bytes'] or 0)}{quota}")
    return 0


def _tenant_roots(
    settings: Settings,
) -> dict[str, tuple[tuple[Root, ...], int | None, int | None]]:
    """Each tenant's distinct roots and its tenant-wide quota, for ``stats``."""
    layouts: dict[str, TenantLayout] = settings.tenant_layouts()
    rows = {}
    for name, layout in layouts.items():
        roots = [layout.home] if layout.home is not None else []
        roots += list(layout.buckets.values())
        quota = settings.tenants[name].quota
        rows[name] = (
            distinct_roots(roots),
            quota.max_bytes if quota is not None else None,
            quota.max_objects if quota is not None else None,
        )
    return rows


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def locate_object(args: argparse.Namespace) -> int:
    """Offline: the upstream root records its encoding (``.s3proxy-layout``), this reads none.

    The deployment is named as ``serve`` names it; no secret is resolved and nothing is
    written, so an unset ``env:`` variable or a read-only data directory does not stop it.
    """
    settings = _layout_settings(args)
    if isinstance(settings, str):
        return fail(settings)
    layouts = settings.tenant_layouts()
    if args.access_key is not None:
        owner = settings.secret_for(args.access_key)
        if owner is None:
            return fail(f"unknown access key {args.access_key!r}")
        name = owner[0]
    elif args.tenant is not None:
        name = args.tenant
        if name not in layouts:
            return fail(f"unknown tenant {name!r}; tenants: {', '.join(sorted(layouts))}")
    elif len(layouts) == 1:
        (name,) = layouts
    else:
        return fail(f"give --tenant NAME, one of: {', '.join(sorted(layouts))}")
    tenant = layouts[name]
    bucket: str = args.bucket
    encoding: KeyEncoding | None = args.key_encoding
    # As the gateway does: a bucket another tenant maps explicitly is not this tenant's.
    foreign = any(bucket in other.buckets for other in layouts.values() if other is not tenant)
    if foreign and bucket not in tenant.buckets:
        return fail(f"AccessDenied: bucket {bucket!r} is mapped to another tenant")
    root = layout_root(tenant, bucket)
    if encoding is None and root is not None:
        encoding = settings.key_encoding_defaults()[root.upstream]
    try:
        digits = shard_digits(settings.layout.shards)
        location = locate(tenant, bucket, args.key, digits, encoding or "plain")
    except S3Error as exc:
        return fail(f"{exc.code.name}: {exc.message}")
    print(f"upstream: {location.upstream}")
    print(f"bucket: {location.bucket}")
    print(f"key_encoding: {encoding}")
    print(f"key: {location.key}")
    return 0


def _layout_settings(args: argparse.Namespace) -> Settings | str:
    """The settings ``serve`` would run with these flags, minus secrets; or what is wrong."""
    problem = _mode_problem(args)
    if problem is not None:
        return problem
    if args.config is not None:
        shards = {} if args.shards is None else {"layout": {"shards": args.shards}}
        return load_settings(args.config, overrides=shards, secrets=False)
    if args.upstream is not None:
        keys = _stand_ins(_QUICK_START_KEYS)
        return quick_start_settings(args.upstream, args.upstream_bucket, keys, shards=args.shards)
    data_dir = (args.data_dir or DEFAULT_DATA_DIR).expanduser().absolute()
    if not data_dir.is_dir():
        return f"no local store at '{data_dir}'"
    # Without a credentials file the local default would generate one: stand-ins instead.
    keep = (data_dir / CREDENTIALS_FILE).is_file()
    env: Mapping[str, str] = os.environ if keep else _stand_ins(_QUICK_START_KEYS[:2])
    return local_default_settings(data_dir, env, shards=args.shards).settings


_QUICK_START_KEYS = (
    "S3PROXY_ACCESS_KEY",
    "S3PROXY_SECRET_KEY",
    "S3PROXY_UPSTREAM_ACCESS_KEY",
    "S3PROXY_UPSTREAM_SECRET_KEY",
)


def _stand_ins(names: tuple[str, ...]) -> dict[str, str]:
    """The environment, with a stand-in for each of ``names`` that is unset: the quick start
    and the local default need keys to build their settings, ``locate`` needs only the layout."""
    env = dict(os.environ)
    for name in names:
        if not env.get(name):
            env[name] = UNRESOLVED_SECRET
    return env
