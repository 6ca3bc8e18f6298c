"""The ``x-amz-id-2`` header every S3 answer carries: which serving process answered.

S3 sends ``x-amz-id-2`` with ``x-amz-request-id`` on every response, errors included; SDKs keep
it (botocore's ``ResponseMetadata.HostId``) and print both in error reports, and support asks
for both. The gateway's value says which process answered: the SHA-256 of a random salt of the
process, the host name and the process id, base64 like S3's. Each serving process logs its
value at start (s3proxy.startup.memory_line), so a client's report names the replica and worker
whose log holds the request's line. A forked worker computes its own, with a salt of its own.

The salt keeps the host name from clients (wave 18 C): without it anyone who saw one answer
could test guesses of the host name (a pod or instance name) against it, trying the few
process ids a container has. Nothing but the log needs to map a value back to its process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket

_SALT = os.urandom(16)
"""This process's salt (re-made in every forked child)."""


def compute() -> bytes:
    """This process's value: base64 of SHA-256(salt, host name, NUL, pid)."""
    material = _SALT + f"{socket.gethostname()}\0{os.getpid()}".encode()
    return base64.b64encode(hashlib.sha256(material).digest())


HOST_ID = compute()
HEADER = (b"x-amz-id-2", HOST_ID)
"""The header as the response paths send it (re-made in every forked child)."""


def _after_fork() -> None:
    global HOST_ID, HEADER, _SALT
    _SALT = os.urandom(16)
    HOST_ID = compute()
    HEADER = (b"x-amz-id-2", HOST_ID)


os.register_at_fork(after_in_child=_after_fork)
