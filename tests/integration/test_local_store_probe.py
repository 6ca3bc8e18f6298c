"""The embedded local store (the quick start's default) under hostile keys and concurrent use.

What an outside check runs first: keys that would escape a filesystem layout, writes racing
writes, reads and deletes, a disk that runs out, a data directory that turns read-only, and a
prefix of 20,000 keys. Each probe asserts what a client sees (exact bodies, ETags, listings,
S3 error codes) and what the data directory holds afterwards (no file outside it, no temp file
left, no blob without a reference). Ordering comes from the requests themselves: a PUT is held
half-sent (its temp file seen in ``tmp/``) while the other request runs; no timed assertions.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import resource
import shutil
import sqlite3
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from s3proxy.layout import shard_of
from tests.integration.conftest import TENANT_KEYS, Proxy, start_proxy
from tests.support.s3http import object_url, sign
from tests.support.waiting import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        "local" not in os.environ.get("S3PROXY_TEST_BACKENDS", "local").split(","),
        reason="the local store's own lane",
    ),
]

BUCKET = "docs"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    running = start_proxy(None, None, tmp_path_factory.mktemp("local-probe"))
    try:
        yield running
    finally:
        running.process.stop()


def store_root(proxy: Proxy) -> Path:
    return proxy.config_path.parent / "store"


def md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def read(proxy: Proxy, key: str, **extra: Any) -> tuple[bytes, dict[str, Any]]:
    got = proxy.client("alice").get_object(Bucket=BUCKET, Key=key, **extra)
    return got["Body"].read(), got


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def temp_files(proxy: Proxy) -> list[Path]:
    return list((store_root(proxy) / "tmp").iterdir())


def blob_names(proxy: Proxy) -> set[str]:
    return {path.name for path in (store_root(proxy) / "blobs").glob("*/*/*")}


def referenced_blobs(proxy: Proxy) -> set[str]:
    """Blobs the index names (objects' segments and pending uploads' parts), read-only."""
    path = store_root(proxy) / "index.sqlite3"
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT blob FROM segments UNION SELECT blob FROM parts").fetchall()
    db.close()
    return {row[0] for row in rows}


def assert_clean(proxy: Proxy) -> None:
    """No temp file left and every blob file referenced (waits for releases still running)."""
    wait_for(lambda: not temp_files(proxy), "temp files to go")
    wait_for(lambda: blob_names(proxy) == referenced_blobs(proxy), "unreferenced blobs to go")


class HeldPut:
    """A PUT sent in two halves: the proxy holds the first half (its temp file exists) until
    :meth:`finish` sends the rest and reads the answer."""

    def __init__(
        self, proxy: Proxy, key: str, body: bytes, headers: dict[str, str], query: str = ""
    ) -> None:
        url = object_url(proxy.endpoint, BUCKET, key, query)
        signed = sign("PUT", url, *TENANT_KEYS["alice"], headers, payload_hash="UNSIGNED-PAYLOAD")
        self.body = body
        self.connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
        before = set(temp_files(proxy))
        path = url.split(str(proxy.port), 1)[1]
        self.connection.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.items():
            self.connection.putheader(name, value)
        self.connection.putheader("Content-Length", str(len(body)))
        self.connection.endheaders()
        self.connection.send(body[: len(body) // 2])
        wait_for(lambda: bool(set(temp_files(proxy)) - before), "the PUT's temp file")

    def finish(self) -> tuple[int, str | None]:
        try:
            self.connection.send(self.body[len(self.body) // 2 :])
            response = self.connection.getresponse()
            response.read()
            return response.status, response.getheader("ETag")
        finally:
            self.connection.close()


# -- keys that would be paths ----------------------------------------------------------------

NFC = unicodedata.normalize("NFC", "caf\u00e9")
NFD = unicodedata.normalize("NFD", "caf\u00e9")
HOSTILE_KEYS = [
    "../escape",
    "../../../../../../tmp/escape",
    "..\\..\\escape",
    "/absolute/etc/passwd",
    "//double//slash",
    "a/./b",
    "a/../b",
    "./dot",
    "trailing/.",
    "trailing/..",
    "seg/" + "s" * 300 + "/end",
    "x" * 1024,
    "\u00e9" * 512,  # 1024 bytes of two-byte characters
    "twins/" + NFC,
    "twins/" + NFD,
    "case/Key",
    "case/key",
    "case/KEY",
    "ctl/\x01\x1f\x7f",
    "ctl/tab\there",
    "space /end ",
    "\ufeffbom",
    "\U0001f600/emoji",
]


def test_hostile_keys_are_stored_exactly_and_never_become_paths(local: Proxy) -> None:
    client = local.client("alice")
    root = store_root(local).resolve()
    outside = root.parent / "escape"
    bodies = {key: f"body of {key!r}".encode() for key in HOSTILE_KEYS}
    for key, body in bodies.items():
        assert client.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"] == md5(body), key
    for key, body in bodies.items():
        data, got = read(local, key)
        assert data == body, key
        assert got["ETag"] == md5(body)
    listed: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, EncodingType="url", PaginationConfig={"PageSize": 7}
    ):
        listed += [unquote(entry["Key"]) for entry in page.get("Contents", [])]
    assert sorted(set(HOSTILE_KEYS), key=lambda k: k.encode()) == [
        key for key in listed if key in bodies
    ]
    assert len(set(HOSTILE_KEYS)) == len(HOSTILE_KEYS)  # NFC/NFD and case twins are distinct
    # Nothing outside the data directory, and inside it nothing named after a key.
    assert not outside.exists() and not Path("/tmp/escape").exists()
    for directory, subdirs, files in os.walk(root):
        for name in subdirs + files:
            path = Path(directory) / name
            assert not path.is_symlink(), path
            assert path.resolve().is_relative_to(root), path
            assert name in ("blobs", "tmp", "index.sqlite3", "index.sqlite3-wal",
                            "index.sqlite3-shm", "store.lock", "reserve") or all(
                c in "0123456789abcdef" for c in name), path  # fmt: skip
    for key in HOSTILE_KEYS:
        client.delete_object(Bucket=BUCKET, Key=key)
        assert error_code(lambda key=key: client.head_object(Bucket=BUCKET, Key=key)) == "404"
    assert_clean(local)


def test_a_key_over_1024_bytes_is_refused_and_not_stored(local: Proxy) -> None:
    client = local.client("alice")
    key = "y" * 1025
    code = error_code(lambda: client.put_object(Bucket=BUCKET, Key=key, Body=b"x"))
    assert code == "KeyTooLongError"
    assert "Contents" not in client.list_objects_v2(Bucket=BUCKET, Prefix="yyyy")


def test_a_1024_byte_key_works_through_multipart_copy_tagging_and_acl(local: Proxy) -> None:
    """The local store has no limit of its own below S3's 1024 bytes (the layout's root
    prefix and shard used to count against it: ~1010 bytes was the most a client got)."""
    client = local.client("alice")
    key, copy = "m" * 1024, "\u00e9" * 512
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=b"p")[
        "ETag"
    ]
    assert [part["ETag"] for part in client.list_parts(
        Bucket=BUCKET, Key=key, UploadId=upload)["Parts"]] == [etag]  # fmt: skip
    client.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    client.copy_object(Bucket=BUCKET, Key=copy, CopySource={"Bucket": BUCKET, "Key": key})
    assert read(local, copy)[0] == b"p"
    client.put_object_tagging(
        Bucket=BUCKET, Key=key, Tagging={"TagSet": [{"Key": "t", "Value": "v"}]}
    )
    assert client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == [
        {"Key": "t", "Value": "v"}
    ]
    client.put_object_acl(Bucket=BUCKET, Key=key, ACL="public-read")
    deleted = client.delete_objects(
        Bucket=BUCKET, Delete={"Objects": [{"Key": key}, {"Key": copy}]}
    )
    assert sorted(entry["Key"] for entry in deleted["Deleted"]) == [key, copy]
    assert_clean(local)


# -- concurrent writers, readers and deleters ------------------------------------------------


def test_racing_puts_of_one_key_leave_one_body_whole(local: Proxy) -> None:
    client = local.client("alice")
    bodies = [bytes([65 + n]) * (2 * 1024 * 1024 + n) for n in range(4)]
    for _ in range(3):
        barrier = threading.Barrier(len(bodies))

        def put(body: bytes, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            return str(client.put_object(Bucket=BUCKET, Key="race/put", Body=body)["ETag"])

        with ThreadPoolExecutor(len(bodies)) as pool:
            etags = list(pool.map(put, bodies))
        assert etags == [md5(body) for body in bodies]
        data, got = read(local, "race/put")
        assert data in bodies and got["ETag"] == md5(data)
    # Held halfway, the later commit wins, whichever started first.
    first = HeldPut(local, "race/held", b"1" * 300_000, {})
    second = HeldPut(local, "race/held", b"2" * 300_001, {})
    assert second.finish() == (200, md5(b"2" * 300_001))
    assert first.finish() == (200, md5(b"1" * 300_000))
    assert read(local, "race/held")[0] == b"1" * 300_000
    assert_clean(local)


def test_a_get_during_a_put_reads_the_old_object_whole(local: Proxy) -> None:
    client = local.client("alice")
    old, new = os.urandom(700_000), os.urandom(900_000)
    client.put_object(Bucket=BUCKET, Key="race/read", Body=old, Metadata={"v": "old"})
    held = HeldPut(local, "race/read", new, {"x-amz-meta-v": "new"})
    data, got = read(local, "race/read")
    assert (data, got["ETag"], got["Metadata"]) == (old, md5(old), {"v": "old"})
    assert held.finish() == (200, md5(new))
    data, got = read(local, "race/read")
    assert (data, got["ETag"], got["Metadata"]) == (new, md5(new), {"v": "new"})
    assert_clean(local)


def test_a_delete_during_a_get_leaves_the_get_whole(local: Proxy) -> None:
    client = local.client("alice")
    body = os.urandom(3 * 1024 * 1024 + 5)
    sha = hashlib.sha256(body).hexdigest()
    client.put_object(Bucket=BUCKET, Key="race/deleted", Body=body)
    got = client.get_object(Bucket=BUCKET, Key="race/deleted")
    start = got["Body"].read(64 * 1024)
    client.delete_object(Bucket=BUCKET, Key="race/deleted")
    assert error_code(lambda: client.head_object(Bucket=BUCKET, Key="race/deleted")) == "404"
    assert start + got["Body"].read() == body
    got["Body"].close()
    wait_for(lambda: sha not in blob_names(local), "the deleted object's blob to go")
    assert_clean(local)


def test_fifty_uploads_of_one_part_number_keep_one_body_whole(local: Proxy) -> None:
    client = local.client("alice")
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="race/part")["UploadId"]
    bodies = [os.urandom(64 * 1024 + n) for n in range(50)]
    barrier = threading.Barrier(len(bodies))

    def upload_part(body: bytes) -> str:
        barrier.wait()
        return str(
            client.upload_part(
                Bucket=BUCKET, Key="race/part", UploadId=upload, PartNumber=1, Body=body
            )["ETag"]
        )

    with ThreadPoolExecutor(len(bodies)) as pool:
        etags = list(pool.map(upload_part, bodies))
    assert etags == [md5(body) for body in bodies]
    parts = client.list_parts(Bucket=BUCKET, Key="race/part", UploadId=upload)["Parts"]
    assert len(parts) == 1
    winner = next(body for body in bodies if md5(body) == parts[0]["ETag"])
    assert parts[0]["Size"] == len(winner)
    loser = next(body for body in bodies if body is not winner)
    assert (
        error_code(
            lambda: client.complete_multipart_upload(
                Bucket=BUCKET,
                Key="race/part",
                UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5(loser)}]},
            )
        )
        == "InvalidPart"
    )
    client.complete_multipart_upload(
        Bucket=BUCKET, Key="race/part", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": md5(winner)}]},
    )  # fmt: skip
    assert read(local, "race/part")[0] == winner
    stored = blob_names(local)
    assert [body for body in bodies if hashlib.sha256(body).hexdigest() in stored] == [winner]
    assert_clean(local)


def test_complete_racing_abort_has_one_winner_and_a_clean_state(local: Proxy) -> None:
    client = local.client("alice")
    outcomes: set[str] = set()
    for round_ in range(6):
        key = f"race/complete-{round_}"
        body = os.urandom(100_000)
        upload = client.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=body)[
            "ETag"
        ]
        barrier = threading.Barrier(2)

        def complete(
            key: str = key, upload: str = upload, etag: str = etag, barrier: Any = barrier
        ) -> str:
            barrier.wait()
            try:
                client.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=upload,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
                )  # fmt: skip
            except ClientError as error:
                return str(error.response["Error"]["Code"])
            return "completed"

        def abort(key: str = key, upload: str = upload, barrier: Any = barrier) -> str:
            barrier.wait()
            try:
                client.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload)
            except ClientError as error:
                return str(error.response["Error"]["Code"])
            return "aborted"

        with ThreadPoolExecutor(2) as pool:
            completed, aborted = pool.submit(complete), pool.submit(abort)
            result = (completed.result(), aborted.result())
        if result[0] == "completed":
            assert result[1] in ("aborted", "NoSuchUpload")
            assert read(local, key)[0] == body
            outcomes.add("complete won")
        else:
            assert result == ("NoSuchUpload", "aborted")
            assert error_code(lambda key=key: client.head_object(Bucket=BUCKET, Key=key)) == "404"
            outcomes.add("abort won")
        assert (
            error_code(
                lambda key=key, upload=upload: client.list_parts(
                    Bucket=BUCKET, Key=key, UploadId=upload
                )
            )
            == "NoSuchUpload"
        )
        uploads = client.list_multipart_uploads(Bucket=BUCKET, Prefix=key).get("Uploads", [])
        assert uploads == []
    assert outcomes
    assert_clean(local)


def test_one_tenants_delete_never_takes_bytes_another_tenant_shares(local: Proxy) -> None:
    """Identical bodies are one blob across tenants (content addressing): alice's overwrite
    and delete, even while bob reads, leave bob's object whole."""
    alice, bob = local.client("alice"), local.client("bob")
    body = os.urandom(2 * 1024 * 1024)
    alice.put_object(Bucket=BUCKET, Key="dedup/same", Body=body)
    bob.put_object(Bucket="shared", Key="dedup/same", Body=body)
    reading = bob.get_object(Bucket="shared", Key="dedup/same")
    start = reading["Body"].read(1024)
    alice.put_object(Bucket=BUCKET, Key="dedup/same", Body=b"overwritten")
    alice.delete_object(Bucket=BUCKET, Key="dedup/same")
    assert start + reading["Body"].read() == body
    reading["Body"].close()
    assert bob.get_object(Bucket="shared", Key="dedup/same")["Body"].read() == body
    bob.delete_object(Bucket="shared", Key="dedup/same")
    wait_for(lambda: hashlib.sha256(body).hexdigest() not in blob_names(local), "the blob to go")
    assert_clean(local)


def test_a_part_arriving_after_complete_is_no_such_upload_and_leaves_no_blob(
    local: Proxy,
) -> None:
    client = local.client("alice")
    upload = client.create_multipart_upload(Bucket=BUCKET, Key="race/late")["UploadId"]
    first = os.urandom(200_000)
    etag = client.upload_part(
        Bucket=BUCKET, Key="race/late", UploadId=upload, PartNumber=1, Body=first
    )["ETag"]
    late = HeldPut(local, "race/late", os.urandom(300_000), {}, f"partNumber=2&uploadId={upload}")
    client.complete_multipart_upload(
        Bucket=BUCKET, Key="race/late", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )  # fmt: skip
    assert late.finish()[0] == 404
    assert read(local, "race/late")[0] == first
    assert_clean(local)


def test_copy_onto_itself_during_a_put_never_mixes_body_and_metadata(local: Proxy) -> None:
    client = local.client("alice")
    old, new = os.urandom(500_000), os.urandom(600_000)
    client.put_object(Bucket=BUCKET, Key="race/copy", Body=old, Metadata={"v": "old"})
    held = HeldPut(local, "race/copy", new, {"x-amz-meta-v": "put"})
    copied = client.copy_object(
        Bucket=BUCKET, Key="race/copy", CopySource={"Bucket": BUCKET, "Key": "race/copy"},
        MetadataDirective="REPLACE", Metadata={"v": "copy"},
    )  # fmt: skip
    assert copied["CopyObjectResult"]["ETag"] == md5(old)
    data, got = read(local, "race/copy")
    assert (data, got["Metadata"]) == (old, {"v": "copy"})
    assert held.finish() == (200, md5(new))
    data, got = read(local, "race/copy")
    assert (data, got["ETag"], got["Metadata"]) == (new, md5(new), {"v": "put"})
    assert_clean(local)


# -- the disk ---------------------------------------------------------------------------------


def test_a_full_disk_is_an_s3_error_and_nothing_half_stored(local: Proxy) -> None:
    """RLIMIT_FSIZE on the proxy's process (no root or loop device needed): a write past it
    fails with EFBIG as one past the end of a full disk fails with ENOSPC (CPython ignores
    SIGXFSZ, so the write returns the error instead of killing the process)."""
    client = local.client("alice")
    before = b"before the disk filled"
    client.put_object(Bucket=BUCKET, Key="disk/full", Body=before)
    pid = local.process.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (2 * 1024 * 1024, hard))
    try:
        code = error_code(
            lambda: client.put_object(
                Bucket=BUCKET, Key="disk/full", Body=os.urandom(6 * 1024 * 1024)
            )
        )
        assert code == "InternalError"
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        assert read(local, "disk/full")[0] == before
        assert_clean(local)
        small = b"a small write"
        client.put_object(Bucket=BUCKET, Key="disk/small", Body=small)
        # Full when the index commits: the body's temp file fits, no WAL frame does.
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (4096, hard))
        code = error_code(
            lambda: client.put_object(Bucket=BUCKET, Key="disk/commit", Body=b"not committed")
        )
        assert code == "InternalError"
        code = error_code(lambda: client.delete_object(Bucket=BUCKET, Key="disk/small"))
        assert code == "InternalError"
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        assert error_code(lambda: client.head_object(Bucket=BUCKET, Key="disk/commit")) == "404"
        assert read(local, "disk/small")[0] == small
        assert_clean(local)
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
    large = os.urandom(6 * 1024 * 1024)
    client.put_object(Bucket=BUCKET, Key="disk/full", Body=large)
    assert read(local, "disk/full")[0] == large
    assert_clean(local)


def _immutable(paths: list[Path], on: bool) -> None:
    """Read-only for root too: ``chattr +i`` (chmod does not stop root)."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if on else 0o755)
        return
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)


def test_a_data_directory_made_read_only_refuses_writes_and_still_serves(local: Proxy) -> None:
    if os.geteuid() == 0 and shutil.which("chattr") is None:
        pytest.skip("root without chattr: no way to make the directory read-only")
    client = local.client("alice")
    body = b"written before the directory turned read-only"
    client.put_object(Bucket=BUCKET, Key="ro/before", Body=body)
    root = store_root(local)
    paths = [root / "tmp", root / "blobs"]
    try:
        _immutable(paths, True)
    except subprocess.CalledProcessError:
        pytest.skip("the file system does not take chattr +i")
    try:
        code = error_code(lambda: client.put_object(Bucket=BUCKET, Key="ro/after", Body=b"x"))
        assert code == "InternalError"
        assert read(local, "ro/before")[0] == body
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix="ro/")["Contents"]
        assert [entry["Key"] for entry in listed] == ["ro/before"]
        admin = http.client.HTTPConnection("127.0.0.1", local.admin_port, timeout=30)
        try:
            admin.request("GET", "/readyz")
            assert admin.getresponse().status == 503
        finally:
            admin.close()
    finally:
        _immutable(paths, False)
    client.put_object(Bucket=BUCKET, Key="ro/after", Body=b"x")
    assert read(local, "ro/after")[0] == b"x"
    assert_clean(local)


# -- a big prefix -----------------------------------------------------------------------------

MANY = 20_000
DIRS = 1_500


def test_twenty_thousand_keys_in_one_prefix_list_exactly(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Seeded straight into a stopped store's index (20,000 PUTs would take minutes here):
    one row copied under 20,000 keys plus 1,500 "directories", then served and paged."""
    workdir = tmp_path_factory.mktemp("local-many")
    proxy = start_proxy(None, None, workdir)
    try:
        proxy.client("alice").put_object(Bucket=BUCKET, Key="many/seed", Body=b"seed")
    finally:
        proxy.process.stop()
    keys = [f"many/k{n:05d}" for n in range(MANY)]
    dirs = [f"many/d{n:04d}/" for n in range(DIRS)]
    with sqlite3.connect(workdir / "store" / "index.sqlite3") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(objects)")]
        [(seed_id, upstream_key)] = [
            (row_id, bytes(key))
            for row_id, key in db.execute("SELECT id, key FROM objects")
            if bytes(key).endswith(b"/many/seed")
        ]
        root, shard = upstream_key[: -len(b"/many/seed")].rsplit(b"/", 1)
        copied = [c for c in columns if c not in ("id", "key")]
        for key in keys + [d + "x" for d in dirs]:
            new_id = db.execute(
                f"INSERT INTO objects (key, {', '.join(copied)}) "
                f"SELECT ?, {', '.join(copied)} FROM objects WHERE id = ?",
                (b"%s/%s/%s" % (root, shard_of(key, len(shard)).encode(), key.encode()), seed_id),
            ).lastrowid
            db.execute(
                "INSERT INTO segments (object_id, seq, blob, size, checksums)"
                " SELECT ?, seq, blob, size, checksums FROM segments "
                "WHERE object_id = ?",
                (new_id, seed_id),
            )
    db.close()
    proxy = start_proxy(None, None, workdir)
    try:
        client = proxy.client("alice")
        entries: list[str] = []
        prefixes: list[str] = []
        pages = 0
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix="many/", Delimiter="/", PaginationConfig={"PageSize": 999}
        ):
            pages += 1
            entries += [entry["Key"] for entry in page.get("Contents", [])]
            prefixes += [common["Prefix"] for common in page.get("CommonPrefixes", [])]
        assert prefixes == dirs
        assert entries == [*keys, "many/seed"]
        assert pages == -(-(MANY + DIRS + 1) // 999)
        tail = client.list_objects(Bucket=BUCKET, Prefix="many/", Marker="many/k19990")
        assert [entry["Key"] for entry in tail["Contents"]] == [*keys[-9:], "many/seed"]
        assert tail["IsTruncated"] is False
        assert read_body(client, "many/k12345") == b"seed"
    finally:
        proxy.process.stop()


def read_body(client: Any, key: str) -> bytes:
    return bytes(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
