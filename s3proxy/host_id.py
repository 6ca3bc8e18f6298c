"""The ``x-amz-id-2`` header every S3 answer carries: which serving process answered.

S3 sends ``x-amz-id-2`` with ``x-amz-request-id`` on every response, errors included; SDKs keep
it (botocore's ``ResponseMetadata.HostId``) and print both in error reports, and support asks
for both. The gateway's value says which process answered: the SHA-256 of the host name and
process id, base64 like S3's (the host name is not shown to clients). Each serving process logs
its value at start (s3proxy.startup.memory_line), so a client's report names the replica and
worker whose log holds the request's line. A forked worker computes its own.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket


def compute() -> bytes:
    """This process's value: base64 of SHA-256(host name, NUL, pid)."""
    material = f"{socket.gethostname()}\0{os.getpid()}".encode()
    return base64.b64encode(hashlib.sha256(material).digest())


HOST_ID = compute()
HEADER = (b"x-amz-id-2", HOST_ID)
"""The header as the response paths send it (re-made in every forked child)."""


def _after_fork() -> None:
    global HOST_ID, HEADER
    HOST_ID = compute()
    HEADER = (b"x-amz-id-2", HOST_ID)


os.register_at_fork(after_in_child=_after_fork)
