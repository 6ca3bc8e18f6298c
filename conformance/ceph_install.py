"""Ceph's mon, OSD and RGW from Debian's packages, for :mod:`conformance.ceph_rgw`."""

from __future__ import annotations

from conformance.debian import (
    PackagesUnavailable,
    ensure_packages,
    install_command,
    missing_programs,
)

# `radosgw` needs ceph-common (radosgw-admin, the `ceph` CLI, python3-rados) and ceph-base
# (monmaptool); both come in as dependencies, ceph-common is named to say we use it directly.
CEPH_PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-common")
REQUIRED_BINARIES = ("radosgw", "ceph-mon", "ceph-osd", "monmaptool", "radosgw-admin", "ceph")
INSTALL_COMMAND = install_command(CEPH_PACKAGES)


class CephUnavailable(PackagesUnavailable):
    """Ceph is not installed and cannot be installed here (not root, or not Debian/apt)."""


def missing_binaries() -> list[str]:
    """The Ceph programs :mod:`conformance.ceph_rgw` runs that are not on PATH."""
    return missing_programs(REQUIRED_BINARIES)


def ensure_installed(*, timeout: float = 900.0) -> None:
    """Install Ceph's mon, OSD and RGW from Debian's packages unless they are already there.

    Measured on Debian 12, 2 cores: update 1.6 s, install 22 s. Raises :class:`CephUnavailable`
    (with the install command) when not root or not on Debian, RuntimeError when apt fails.
    """
    try:
        ensure_packages(CEPH_PACKAGES, REQUIRED_BINARIES, timeout=timeout)
    except PackagesUnavailable as error:
        raise CephUnavailable(f"Ceph RGW {error}") from None


# --------------------------------------------------------------------------------------------
