"""Installing Debian packages that tests and scripts need (Ceph, haproxy, buildah, aws-cli v2 …).

Why here: the project's own files must install everything a test needs, so a fixture asks for
its programs with :func:`ensure_packages` instead of assuming the machine has them. One apt
runs at a time (``DPkg::Lock::Timeout`` waits for a parallel run); ``apt-get update`` runs only
when the lists do not offer a package, or an install from stale lists failed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

LOG = logging.getLogger(__name__)


class PackagesUnavailable(RuntimeError):
    """Programs are missing and cannot be installed here (not root, or not Debian/apt).

    The message names the missing programs and the command that would install them.
    """


def install_command(packages: Sequence[str]) -> str:
    return "apt-get update && apt-get install -y --no-install-recommends " + " ".join(packages)


def missing_programs(programs: Sequence[str]) -> list[str]:
    """Those of ``programs`` (names or absolute paths) that are not installed."""
    return [
        name
        for name in programs
        if (not Path(name).exists() if os.path.isabs(name) else shutil.which(name) is None)
    ]


def ensure_packages(
    packages: Sequence[str], programs: Sequence[str], *, timeout: float = 900.0
) -> None:
    """Install ``packages`` with apt unless every one of ``programs`` is already there.

    Raises :class:`PackagesUnavailable` (with the install command) when not root or not on
    Debian, RuntimeError when apt itself fails.
    """
    missing = missing_programs(programs)
    if not missing:
        return
    command = install_command(packages)
    if not Path("/etc/debian_version").exists() or shutil.which("apt-get") is None:
        raise PackagesUnavailable(
            f"needs {', '.join(missing)}; this is not a Debian system with apt."
            f" On Debian: {command}"
        )
    if os.geteuid() != 0:
        raise PackagesUnavailable(
            f"needs {', '.join(missing)}; installing them needs root: sudo sh -c '{command}'"
        )
    started = time.monotonic()
    deadline = started + timeout
    install = [
        "apt-get",
        "install",
        "-y",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=300",  # another apt (a parallel test run) holds the lock: wait
        *packages,
    ]
    updated = False
    if not all(_apt_has_candidate(package) for package in packages):
        _apt_update(deadline)
        updated = True
    result = _run_apt(install, deadline)
    if result.returncode != 0 and not updated:  # stale lists: a 404 on an old version
        _apt_update(deadline)
        result = _run_apt(install, deadline)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(install)} failed ({result.returncode}):\n{result.stdout[-3000:]}"
            f"\n{result.stderr[-3000:]}"
        )
    still = missing_programs(programs)
    if still:
        raise RuntimeError(f"installed {' '.join(packages)} but {still} still missing")
    LOG.info("installed %s in %.1f s", " ".join(packages), time.monotonic() - started)


def _apt_has_candidate(package: str) -> bool:
    """Does apt's current package list offer ``package``? (False before any `apt-get update`.)"""
    result = subprocess.run(
        ["apt-cache", "policy", package], capture_output=True, text=True, check=False
    )
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("Candidate:"):
            return line.split(":", 1)[1].strip() not in ("", "(none)")
    return False


def _run_apt(argv: list[str], deadline: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    timeout = max(1.0, deadline - time.monotonic())
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )


def _apt_update(deadline: float) -> None:
    result = _run_apt(["apt-get", "update"], deadline)
    if result.returncode != 0:
        raise RuntimeError(f"apt-get update failed:\n{result.stdout[-2000:]}\n{result.stderr}")
