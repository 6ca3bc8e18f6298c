"""Real clients at the edges a storage engineer reaches: paging at page size 1, streams that
cannot seek, sixteen transfer threads, stdin uploads, syncs that delete, names that need care.

The sessions of tests/clients/test_sessions.py walk the happy path; these take each client
where it breaks in practice and compare what it reports with the bytes, listings and metadata
actually there. Each runs on every upstream over HTTP (TLS is the client-facing leg and the
sessions already cover it: the command-line checks skip it, the in-process boto3 checks are
cheap enough to keep). Found here: SeaweedFS misreads ListMultipartUploads' markers, so a
paged listing ended early with a 200 and uploads left out (boto3's paginator at page size 1,
``aws s3api list-multipart-uploads`` past one page); the proxy now pages such an upstream
itself (s3proxy/backends/upload_markers.py).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.sessions.awscli import AwsCli
from conformance.sessions.rclone import Rclone
from conformance.sessions.s3cmd import S3cmd
from tests.clients.conftest import RunningProxy
from tests.clients.lane import Lane, lane_on

pytestmark = [pytest.mark.clients, pytest.mark.integration]

MiB = 1024 * 1024
#: Names people have, and that break naive encoders: spaces, NFC unicode, '+', '%', '&', ';',
#: '=', '~', a dot file, nesting.
TREE = {
    "top.txt": b"top\n",
    "with space/file one.txt": b"spaces\n",
    "unicode/\u00e9t\u00e9/\u00fc \u65e5\u672c.bin": bytes(range(256)),
    "plus+sign/a+b=c.txt": b"plus\n",
    "pct%20name/100%.txt": b"percent\n",
    "amp&semi;/q=1;x.txt": b"amp\n",
    "tilde~/deep/a/b/c.txt": b"deep\n",
    ".hidden": b"dot\n",
}


HTTP_ONLY = "command-line edges run over HTTP; TLS is covered by the sessions"


@pytest.fixture(scope="module")
def lane(client_proxy: RunningProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    with lane_on(client_proxy, tmp_path_factory, "edge", max_pool_connections=16) as made:
        yield made


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _paged(lane: Lane, operation: str, items: str, **params: Any) -> list[Any]:
    pages = lane.s3.get_paginator(operation).paginate(
        Bucket=lane.bucket, PaginationConfig={"PageSize": 1}, **params
    )
    return [item for page in pages for item in page.get(items, [])]


def test_paginators_at_page_size_one_list_everything_once(lane: Lane) -> None:
    """boto3's paginators at page size 1: objects (V2 and V1, with and without a delimiter),
    a multipart upload's parts, and the uploads in progress — two of them on one key."""
    keys = [f"pg/{n} \u00e9/x+{n}" for n in range(4)]
    for key in keys:
        lane.s3.put_object(Bucket=lane.bucket, Key=key, Body=b"x")
    for operation in ("list_objects_v2", "list_objects"):
        assert [c["Key"] for c in _paged(lane, operation, "Contents", Prefix="pg/")] == keys
        prefixes = _paged(lane, operation, "CommonPrefixes", Prefix="pg/", Delimiter="/")
        assert [p["Prefix"] for p in prefixes] == [key.rsplit("/", 1)[0] + "/" for key in keys]

    created = [
        (key, lane.s3.create_multipart_upload(Bucket=lane.bucket, Key=key)["UploadId"])
        for key in ("mu/0", "mu/1", "mu/2", "mu/0")
    ]
    key, upload_id = created[0]
    for number in (1, 2, 3):
        lane.s3.upload_part(
            Bucket=lane.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=b"p" * 10
        )
    parts = _paged(lane, "list_parts", "Parts", Key=key, UploadId=upload_id)
    assert [part["PartNumber"] for part in parts] == [1, 2, 3]
    listed = [(u["Key"], u["UploadId"]) for u in _paged(lane, "list_multipart_uploads", "Uploads")]
    assert [key for key, _ in listed] == ["mu/0", "mu/0", "mu/1", "mu/2"]
    assert sorted(listed) == sorted(created)
    for key, upload_id in created:
        lane.s3.abort_multipart_upload(Bucket=lane.bucket, Key=key, UploadId=upload_id)
    assert _paged(lane, "list_multipart_uploads", "Uploads", Prefix="mu/") == []


class _Pipe(io.RawIOBase):
    """A stream that cannot seek or tell its size, as a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._data.readinto(buffer)


def test_transfer_manager_sixteen_threads_pipes_and_ranges(lane: Lane) -> None:
    """s3transfer with 16 threads up and down, ``upload_fileobj`` of a non-seekable stream
    (multipart, and one smaller than a part), ranged and part-numbered reads of the result."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=16
    )
    data = os.urandom(16 * MiB + 7)
    source, back = lane.work / "sixteen.bin", lane.work / "sixteen.back"
    source.write_bytes(data)
    lane.s3.upload_file(str(source), lane.bucket, "tm/sixteen", Config=config)
    lane.s3.download_file(lane.bucket, "tm/sixteen", str(back), Config=config)
    assert back.read_bytes() == data
    lane.s3.upload_fileobj(_Pipe(data[: 11 * MiB]), lane.bucket, "tm/pipe", Config=config)
    assert lane.body("tm/pipe") == data[: 11 * MiB]
    lane.s3.upload_fileobj(_Pipe(b"tiny"), lane.bucket, "tm/tiny", Config=config)
    assert lane.body("tm/tiny") == b"tiny"
    for asked, expected in (
        ("bytes=0-0", data[:1]),
        ("bytes=-10", data[-10:]),
        (f"bytes={5 * MiB - 3}-{5 * MiB + 3}", data[5 * MiB - 3 : 5 * MiB + 4]),
        (f"bytes={len(data) - 1}-{len(data) + 100}", data[-1:]),
    ):
        answer = lane.s3.get_object(Bucket=lane.bucket, Key="tm/sixteen", Range=asked)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 206, asked
        assert answer["Body"].read() == expected, asked


def test_rclone_sync_check_and_sync_again_after_a_delete(lane: Lane) -> None:
    """``rclone sync --fast-list`` of names that need care, ``rclone check`` finds 0
    differences; a file removed and one changed locally, sync again: check is clean again."""
    rclone = cast(Rclone, lane.driver("rclone-pypi", http_only=HTTP_ONLY))
    tree = _tree(lane.work / "rclone-tree", TREE)
    remote = f"proxy:{lane.bucket}/rc"
    synced = rclone.run("sync", "--fast-list", str(tree), remote)
    assert synced.exit_code == 0, synced.output
    checked = rclone.run("check", "--checksum", str(tree), remote)
    assert checked.exit_code == 0 and "0 differences found" in checked.output, checked.output
    assert sorted(lane.listed("rc/")) == sorted(f"rc/{name}" for name in TREE)
    (tree / "plus+sign/a+b=c.txt").unlink()
    (tree / "pct%20name/100%.txt").write_bytes(b"changed, and longer\n")
    again = rclone.run("sync", str(tree), remote)
    assert again.exit_code == 0, again.output
    checked = rclone.run("check", str(tree), remote)
    assert checked.exit_code == 0 and "0 differences found" in checked.output, checked.output
    assert "rc/plus+sign/a+b=c.txt" not in lane.listed("rc/")
    assert lane.body("rc/pct%20name/100%.txt") == b"changed, and longer\n"


def test_aws_sync_delete_exclude_and_stdin_multipart(lane: Lane) -> None:
    """``aws s3 sync --delete --exclude`` deletes what is gone locally, keeps what is
    excluded; ``aws s3 ls --recursive --summarize`` counts it; a stdin upload with
    ``--expected-size`` and a 5 MB multipart threshold stores the exact bytes."""
    aws = cast(AwsCli, lane.driver("awscli-v1", http_only=HTTP_ONLY))
    tree = _tree(lane.work / "aws-tree", TREE)
    url = f"s3://{lane.bucket}/aws/"
    assert (up := aws.run("s3", "sync", str(tree), url)).exit_code == 0, up.output
    (tree / "with space/file one.txt").unlink()
    (tree / "tilde~/deep/a/b/c.txt").unlink()
    synced = aws.run("s3", "sync", "--delete", "--exclude", "tilde~/*", str(tree), url)
    assert synced.exit_code == 0, synced.output
    expected = sorted(f"aws/{name}" for name in TREE if not name.startswith("with space/"))
    assert sorted(lane.listed("aws/")) == expected
    listed = aws.run("s3", "ls", "--recursive", "--summarize", url)
    size = sum(len(data) for name, data in TREE.items() if f"aws/{name}" in expected)
    assert f"Total Objects: {len(expected)}" in listed.output, listed.output
    assert f"Total Size: {size}" in listed.output, listed.output

    aws.set_multipart(5)
    data = os.urandom(12 * MiB + 3)
    piped = lane.work / "stdin.bin"
    piped.write_bytes(data)
    sent = aws.run("s3", "cp", "-", f"{url}stdin", "--expected-size", str(len(data)), stdin=piped)
    assert sent.exit_code == 0, sent.output
    assert lane.body("aws/stdin") == data
    assert lane.s3.head_object(Bucket=lane.bucket, Key="aws/stdin")["ETag"].endswith('-3"')


def test_s3cmd_sync_delete_removed_and_modify(lane: Lane) -> None:
    """``s3cmd sync --delete-removed`` after a local delete, then ``s3cmd modify`` adds
    metadata in place: the bytes stay, the listing is exactly the tree."""
    s3cmd = cast(S3cmd, lane.driver("s3cmd-v4", http_only=HTTP_ONLY))
    tree = _tree(lane.work / "s3cmd-tree", TREE)
    url = f"s3://{lane.bucket}/s3cmd/"
    assert (up := s3cmd.run("sync", f"{tree}/", url)).exit_code == 0, up.output
    (tree / "unicode/\u00e9t\u00e9/\u00fc \u65e5\u672c.bin").unlink()
    synced = s3cmd.run("sync", "--delete-removed", f"{tree}/", url)
    assert synced.exit_code == 0, synced.output
    left = {name: data for name, data in TREE.items() if not name.startswith("unicode/")}
    assert sorted(lane.listed("s3cmd/")) == sorted(f"s3cmd/{name}" for name in left)
    key = "s3cmd/amp&semi;/q=1;x.txt"
    modified = s3cmd.run(
        "modify", "--add-header=x-amz-meta-color:blue", f"s3://{lane.bucket}/{key}"
    )
    assert modified.exit_code == 0, modified.output
    head = lane.s3.head_object(Bucket=lane.bucket, Key=key)
    assert head["Metadata"].get("color") == "blue", head["Metadata"]
    assert lane.body(key) == TREE["amp&semi;/q=1;x.txt"]
