"""``x-amz-id-2`` names the serving process without letting a client test guesses of the host
name (wave 18 C, s3proxy.host_id).

It was base64(SHA-256(host name, NUL, pid)): every client sees it on every answer, and a pod or
instance name with the few process ids a container has is a small space to try. A random salt
per process now comes first; the value is still one per process and logged at start."""

from __future__ import annotations

import base64
import hashlib
import os
import socket

from s3proxy import host_id


def test_the_host_id_cannot_be_recomputed_from_host_name_and_pid() -> None:
    unsalted = f"{socket.gethostname()}\0{os.getpid()}".encode()
    assert base64.b64encode(hashlib.sha256(unsalted).digest()) != host_id.HOST_ID
    assert host_id.compute() == host_id.HOST_ID  # one value per process
    assert len(base64.b64decode(host_id.HOST_ID)) == 32  # S3's shape: base64 of 32 bytes
