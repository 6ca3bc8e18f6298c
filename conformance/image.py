"""Building the production container image without a Docker engine: buildah and a local base.

Why: CI machines (and this sandbox) have no Docker daemon and cannot pull from a registry, yet
the Dockerfile must be proven to build and run. Debian's buildah builds it with
``--isolation chroot`` (no runc, no daemon, host network); the base image is made here from
Debian packages with mmdebstrap (minbase + python3 + python3-venv + ca-certificates, security
updates included) and imported with ``buildah from scratch`` + ``buildah add`` of the tarball,
tagged ``localhost/s3proxy-base:bookworm``. mmdebstrap rather than debootstrap: it fetches with
apt in parallel, leaves no package lists or .deb files behind and writes the tarball directly
(about 2 minutes here against 3 for debootstrap).

``python -m conformance.image base`` builds the base (once; ``--force`` rebuilds),
``python -m conformance.image build`` builds ``localhost/s3proxy:test`` on it.
Set ``STORAGE_DRIVER=vfs`` where overlay mounts are not allowed.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
BASE_IMAGE = f"localhost/s3proxy-base:{SUITE}"
IMAGE = "localhost/s3proxy:test"
PACKAGES = ("buildah", "mmdebstrap")
"""Debian packages for :func:`conformance.debian.ensure_packages` (programs of the same name)."""
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
DEFAULT_MIRRORS = {
    "debian": "http://deb.debian.org/debian",
    "security": "http://deb.debian.org/debian-security",
}
# Like the official slim images: no manuals, docs (copyright files kept) or translations.
_SLIM_DPKG = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
)
_BASE_LOCK = Path("/var/tmp/s3proxy-base.lock")
_TIMEOUT = 900.0


class BuildFailed(RuntimeError):
    """A buildah or mmdebstrap command failed; the message ends with its output's tail."""


def buildah(*args: str, timeout: float = _TIMEOUT, check: bool = True) -> str:
    """Run ``buildah ARGS`` and return its stdout; :class:`BuildFailed` when ``check`` and it
    fails."""
    return _run(["buildah", *args], timeout=timeout, check=check).stdout


def _run(argv: Sequence[str], *, timeout: float, check: bool) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise BuildFailed(f"{' '.join(argv[:3])} … failed ({result.returncode}):\n{output}")
    return result


def image_exists(name: str) -> bool:
    return (
        _run(["buildah", "inspect", "--type", "image", name], timeout=60, check=False).returncode
        == 0
    )


def inspect_image(name: str) -> dict[str, Any]:
    """``buildah inspect`` of an image: ``Docker.config`` holds User, Healthcheck, Entrypoint."""
    data: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", name, timeout=60))
    return data


def apt_mirrors(sources: Sequence[Path] | None = None) -> dict[str, str]:
    """The host's Debian mirror and security mirror, read from its apt sources (one-line
    ``deb URI SUITE …`` and deb822 ``URIs:``/``Suites:``), so the base comes from the same
    place apt does here; deb.debian.org for whatever is not configured."""
    if sources is None:
        apt = Path("/etc/apt")
        sources = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    found: dict[str, str] = {}
    for path in sources:
        if path.suffix not in (".list", ".sources") or not path.is_file():
            continue
        for uris, suites in _source_entries(path.read_text(encoding="utf-8", errors="replace")):
            for suite in suites:
                role = "security" if suite.endswith("-security") else "debian"
                if uris and role not in found:
                    found[role] = uris[0].rstrip("/")
    return {role: found.get(role, default) for role, default in DEFAULT_MIRRORS.items()}


def _source_entries(text: str) -> Iterator[tuple[list[str], list[str]]]:
    if any(line.startswith("URIs:") for line in text.splitlines()):
        for stanza in text.split("\n\n"):
            fields: dict[str, list[str]] = {}
            for line in stanza.splitlines():
                name, sep, value = line.partition(":")
                if sep and not line.startswith((" ", "#")):
                    fields[name.strip()] = value.split()
            if "deb" in fields.get("Types", []) and fields.get("Enabled", ["yes"]) != ["no"]:
                yield fields.get("URIs", []), fields.get("Suites", [])
        return
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0] == "deb":
            words = [w for w in words[1:] if not w.startswith("[")]  # drop [arch=…] options
            if len(words) >= 2:
                yield [words[0]], [words[1]]


def base_sources(mirrors: dict[str, str], suite: str = SUITE) -> list[str]:
    return [
        f"deb {mirrors['debian']} {suite} main",
        f"deb {mirrors['debian']} {suite}-updates main",
        f"deb {mirrors['security']} {suite}-security main",
    ]


def build_base(tag: str = BASE_IMAGE, *, suite: str = SUITE) -> float:
    """Make the base image from Debian packages and tag it; returns the seconds it took."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="s3proxy-base-", dir="/var/tmp") as work:
        rootfs = Path(work) / "rootfs.tar"
        _run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--include=" + ",".join(BASE_PACKAGES),
                *(f"--dpkgopt={option}" for option in _SLIM_DPKG),
                suite,
                str(rootfs),
                *base_sources(apt_mirrors(), suite),
            ],
            timeout=_TIMEOUT,
            check=True,
        )
        container = buildah("from", "scratch").strip()
        try:
            buildah("add", container, str(rootfs), "/")  # a local tarball is unpacked, owners kept
            buildah(
                "config",
                "--env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--env",
                "LANG=C.UTF-8",
                "--cmd",
                "/bin/bash",
                container,
            )
            buildah("commit", "--quiet", container, tag)
        finally:
            buildah("rm", container, check=False)
    return time.monotonic() - started


@contextmanager
def _base_lock() -> Iterator[None]:
    """Two runs on one machine build the base once: the second waits, then finds it."""
    with _BASE_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_base(tag: str = BASE_IMAGE, *, force: bool = False) -> float | None:
    """Build the base unless it exists; the seconds it took, or None when it was cached."""
    with _base_lock():
        if not force and image_exists(tag):
            return None
        return build_base(tag)


def ca_bundle() -> Path | None:
    """The host's CA bundle, handed to pip in the build stage as the ``ca-bundle`` secret: where
    a TLS-intercepting proxy sits between this machine and PyPI, only the host trusts it."""
    candidates = [os.environ.get("PIP_CERT"), ssl.get_default_verify_paths().cafile]
    candidates.append("/etc/ssl/certs/ca-certificates.crt")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def build_command(
    tag: str = IMAGE, base: str = BASE_IMAGE, context: Path = ROOT, cafile: Path | None = None
) -> list[str]:
    # --format docker: the OCI image config has no HEALTHCHECK, buildah drops it otherwise.
    command = ["buildah", "bud", "--isolation", "chroot", "--format", "docker", "--layers=false"]
    if cafile is not None:
        command += ["--secret", f"id=ca-bundle,src={cafile}"]
    return [*command, "--build-arg", f"BASE={base}", "--tag", tag, str(context)]


def build_image(tag: str = IMAGE, base: str = BASE_IMAGE, context: Path = ROOT) -> float:
    """``buildah bud`` the Dockerfile in ``context`` on ``base``; returns the seconds it took."""
    started = time.monotonic()
    previous = _image_id(tag)
    _run(build_command(tag, base, context, ca_bundle()), timeout=_TIMEOUT, check=True)
    if previous is not None and previous != _image_id(tag):
        buildah("rmi", previous, check=False)  # the image this tag replaced: don't pile them up
    return time.monotonic() - started


def _image_id(name: str) -> str | None:
    result = _run(
        ["buildah", "inspect", "--type", "image", "--format", "{{.FromImageID}}", name],
        timeout=60,
        check=False,
    )
    return result.stdout.strip() or None if result.returncode == 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.image", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    base = commands.add_parser("base", help=f"build the local base image ({BASE_IMAGE})")
    base.add_argument("--tag", default=BASE_IMAGE)
    base.add_argument("--force", action="store_true", help="rebuild even when it exists")
    build = commands.add_parser("build", help=f"build the s3proxy image ({IMAGE}) on the base")
    build.add_argument("--tag", default=IMAGE)
    build.add_argument("--base", default=BASE_IMAGE)
    args = parser.parse_args(argv)
    try:
        if args.command == "base":
            seconds = ensure_base(args.tag, force=args.force)
            print(f"{args.tag}: " + ("exists" if seconds is None else f"built in {seconds:.0f} s"))
        else:
            if args.base == BASE_IMAGE:
                ensure_base()
            seconds = build_image(args.tag, args.base)
            print(f"{args.tag}: built in {seconds:.0f} s")
    except BuildFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
