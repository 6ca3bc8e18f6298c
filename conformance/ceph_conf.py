"""The ceph.conf of the throwaway cluster (:mod:`conformance.ceph_rgw`): one monitor, one
memstore OSD and one radosgw on loopback, everything under one work directory.

Settings chosen for a 2-core / small-RAM machine:

- ``paxos propose interval = 0.01`` (default 1 s): every map change (``osd new``, each pool
  create / application enable, the OSD's own crush and device-class updates at boot) waits for a
  Paxos proposal; at the default the 14 pool commands alone took 13 s and the OSD's boot 2 s
  more, at 0.01 s the whole start-up takes 0.6–1.4 s (2 cores).
- memstore, ``memstore device bytes`` (default 2 GiB here): only the *reported* capacity; memory
  is used as data is stored, not reserved. The OSD's full ratios apply to it (nearfull 85 %,
  full 95 %): past them writes block, so raise it for benchmarks that store more.
  ``osd memory target`` is a BlueStore cache knob and does nothing for memstore.
- ``osd op num shards = 2`` (hdd default 5) and ``ms async op threads = 2`` (default 3): two
  cores cannot use more; fewer threads, less scheduling noise.
- ``rgw thread pool size = 16`` (default 512): beast runs requests as coroutines that yield on
  RADOS I/O, so a few threads carry many connections; 512 threads only cost stacks.
- RGW background work off: garbage collection, lifecycle, dynamic resharding, quota sync, usage
  and ops logs, multisite sync. None of it has anything to do within a test run (GC, for one,
  waits 2 h before collecting), and each is a thread waking up on two shared cores. Consequence:
  tails of deleted or overwritten objects > 4 MiB stay in memstore RAM until stop, and lifecycle
  rules are stored but never run.
- RGW pools created before radosgw starts, with 8 PGs each: created lazily by RGW they cost the
  first CreateBucket ~2.4 s (S3-NOTES.md). And radosgw starts only once the OSD is up: RADOS ops
  that find no OSD wait for the objecter's 5 s tick (start-up was 0.8 s or 5.5 s, by chance).
- ``tcp_nodelay=1`` on beast: without it a small GET on a kept-alive connection takes ~44 ms.
"""

from __future__ import annotations

from pathlib import Path

LOOPBACK = "127.0.0.1"

RGW_POOLS = (
    ".rgw.root",
    "default.rgw.control",
    "default.rgw.meta",
    "default.rgw.log",
    "default.rgw.buckets.index",
    "default.rgw.buckets.data",
    "default.rgw.buckets.non-ec",
)
POOL_PG_NUM = 8

DEFAULT_MEMSTORE_BYTES = 2 * 1024**3

MON_ID = "a"
OSD_ID = 0
RGW_NAME = "client.rgw.a"
SUN_PATH_MAX = 107  # bytes in a unix socket path, without the NUL


def ceph_conf(
    work_dir: Path,
    fsid: str,
    mon_port: int,
    rgw_port: int,
    memstore_bytes: int,
    extra: dict[str, dict[str, str]],
) -> str:
    run_dir = work_dir / "run"
    # Admin sockets (for `ceph daemon …`) only where the path fits a unix socket address.
    longest = run_dir / f"{RGW_NAME}.asok"
    admin_socket = str(run_dir / "$name.asok") if len(str(longest)) <= SUN_PATH_MAX else ""
    sections: dict[str, dict[str, str]] = {
        "global": {
            "fsid": fsid,
            "mon host": f"v2:{LOOPBACK}:{mon_port}",
            "mon initial members": MON_ID,
            "public addr": LOOPBACK,
            "cluster addr": LOOPBACK,
            "ms bind msgr1": "false",
            "ms bind ipv6": "false",
            "ms async op threads": "2",
            # cephx off: one process tree on loopback, keys would only cost time
            "auth cluster required": "none",
            "auth service required": "none",
            "auth client required": "none",
            "mon warn on insecure global id reclaim allowed": "false",
            "keyring": "/dev/null",
            "run dir": str(run_dir),
            "crash dir": str(work_dir / "crash"),
            "log file": str(work_dir / "log" / "$name.log"),
            "admin socket": "",
            "pid file": "",
            "osd pool default size": "1",
            "osd pool default min size": "1",
            "osd pool default pg num": str(POOL_PG_NUM),
            "osd pool default pgp num": str(POOL_PG_NUM),
            "osd pool default pg autoscale mode": "off",
            "osd crush chooseleaf type": "0",
            "mon allow pool size one": "true",
            "mon allow pool delete": "true",
            "mon warn on pool no redundancy": "false",
            "mon max pg per osd": "1000",
        },
        "mon": {
            "mon data": str(work_dir / "mon" / "$id"),
            "admin socket": admin_socket,
            "paxos propose interval": "0.01",
            "paxos min wait": "0.001",
            # a nearly full CI disk must not stop the monitor (default: shut down below 5 %)
            "mon data avail warn": "2",
            "mon data avail crit": "1",
        },
        f"mon.{MON_ID}": {"public addrv": f"v2:{LOOPBACK}:{mon_port}"},
        "osd": {
            "osd data": str(work_dir / "osd" / "$id"),
            "admin socket": admin_socket,
            "osd objectstore": "memstore",
            "memstore device bytes": str(memstore_bytes),
            "osd op num shards": "2",
            "osd op num threads per shard": "1",
        },
        RGW_NAME: {
            "admin socket": admin_socket,
            "rgw data": str(work_dir / "rgw"),
            "rgw frontends": f"beast endpoint={LOOPBACK}:{rgw_port} tcp_nodelay=1",
            # radosgw's built-in defaults demand cephx and a "secure" mon connection
            "auth client required": "none",
            "ms mon client mode": "crc",
            "rgw thread pool size": "16",
            "rgw enable gc threads": "false",
            "rgw enable lc threads": "false",
            "rgw dynamic resharding": "false",
            "rgw enable quota threads": "false",
            "rgw enable usage log": "false",
            "rgw enable ops log": "false",
            "rgw run sync thread": "false",
            "rgw exit timeout secs": "5",
        },
    }
    for section, options in extra.items():
        sections.setdefault(section, {}).update(options)
    lines = [f"# written by conformance/ceph_rgw.py for {work_dir}"]
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
    return "\n".join(lines) + "\n"
