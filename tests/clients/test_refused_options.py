"""Options the gateway refuses, as the people who type them meet them (issue 14).

``aws s3 cp --sse AES256`` (aws-cli v1 and v2) must fail where the user looks: a non-zero exit
and the S3 error code in the client's output; and must have stored nothing (HEAD answers 404, no
multipart upload is left behind); so must ``s3cmd put --server-side-encryption`` (SigV4 and
SigV2, small and multipart). That the same commands without the option still work, as do
``rclone`` and ``s3cmd put`` with their defaults (rclone 1.60 sends ``x-amz-acl: private``,
s3cmd ``x-amz-storage-class: STANDARD``), small and multipart, is proved by the client
sessions' ``upload_small``, ``upload_multipart`` and ``download_compare`` cells
(tests/clients/test_sessions.py): the same command lines, on the same proxies and more, and
the bytes read back. A separate upload per client here only repeated them. Versioning:
``aws s3api put-bucket-versioning`` and ``rclone backend versioning … Enabled`` are refused
with NotImplemented; asking rclone for the status answers "Unversioned". ``--storage-class
STANDARD_IA``, refused before issue 17, is now kept and shown by ``s3api head-object``; ``aws
s3 cp --acl public-read`` / ``s3cmd put --acl-public``, refused before issue 17 (and of a
multipart-sized file until the ACL travelled from CreateMultipartUpload to Complete), are
served, then read anonymously.

Runs on the local store's proxies, over HTTP and HTTPS: a refusal comes before any upstream
call. The multipart public-ACL uploads also run on SeaweedFS and Ceph (over HTTP): there the ACL
is a record of the upload upstream (s3proxy.backends.upload_records). What each client printed
is kept in ``build/conformance/refusals.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import pytest

from conformance.sessions.base import Outcome
from tests.clients.conftest import RESULTS_DIR, RunningProxy
from tests.clients.lane import Lane, lane_on

pytestmark = [pytest.mark.clients, pytest.mark.integration]

MiB = 1024 * 1024
SMALL = b"refused options\n"
LARGE_SIZE = 9 * MiB + 17  # above aws-cli's 8 MiB multipart threshold and s3cmd's 5 MiB chunks
S3CMD_CHUNKS = "--multipart-chunk-size-mb=5"


@dataclass(frozen=True)
class Case:
    client: str
    flags: tuple[str, ...]
    code: str  # the S3 error code the output must show
    large: bool = False  # multipart: the refusal comes at CreateMultipartUpload

    @property
    def id(self) -> str:
        words = [flag.strip("-").replace("=", "-") for flag in self.flags]
        return "-".join([self.client, *(["multipart"] if self.large else []), *words])


REFUSED: tuple[Case, ...] = (
    *(Case(name, ("--sse", "AES256"), "NotImplemented") for name in ("awscli-v1", "awscli-v2")),
    Case("awscli-v1", ("--sse", "AES256"), "NotImplemented", large=True),
    *(
        Case(name, ("--server-side-encryption",), "NotImplemented")
        for name in ("s3cmd-v4", "s3cmd-v2")
    ),
    Case("s3cmd-v4", ("--server-side-encryption",), "NotImplemented", large=True),
)  # public ACLs, small and multipart, are served: test_public_object_then_anonymous_get


class Commands(Protocol):
    def run(self, *args: str) -> Outcome: ...


def _driver(lane: Lane, name: str) -> Commands:
    return cast(Commands, lane.driver(name))


def _key(name: str, source: Path) -> str:
    return f"{name}/{os.urandom(4).hex()}/{source.name}"


@pytest.fixture(scope="session")
def printed() -> Iterator[dict[str, dict[str, Any]]]:
    """What each client printed, by lane and case; written to refusals.json at the end."""
    record: dict[str, dict[str, Any]] = {}
    yield record
    if record:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / "refusals.json").write_text(json.dumps(record, indent=1) + "\n")


@pytest.fixture(scope="module")
def lane(client_proxy: RunningProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    # Local-store lanes only (tests/conftest.py drops the others): the header policy answers
    # before any upstream call, so the upstream cannot change what a client sees.
    path_style = {"addressing_style": "path"}
    with lane_on(client_proxy, tmp_path_factory, "refused", s3=path_style) as made:
        yield made


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The small and the large (multipart) file, by ``large``."""
    root = tmp_path_factory.mktemp("refused-files")
    small, large = root / "small.txt", root / "large.bin"
    small.write_bytes(SMALL)
    large.write_bytes(os.urandom(LARGE_SIZE))
    return {False: small, True: large}


def _upload(
    lane: Lane, name: str, flags: tuple[str, ...], source: Path, key: str, *, retries: bool = True
) -> Outcome:
    """Upload ``source`` to ``key`` the way a user of ``name`` types it. ``retries=False`` keeps
    s3cmd from retrying a 5xx five times with growing waits (45 s; 501 is a 5xx to it)."""
    driver = _driver(lane, name)
    url = f"s3://{lane.bucket}/{key}"
    if name.startswith("awscli"):
        return driver.run("s3", "cp", *flags, str(source), url)
    assert name.startswith("s3cmd"), name
    chunks = (S3CMD_CHUNKS,) if source.stat().st_size > 5 * MiB else ()
    once = () if retries else ("--max-retries=0",)
    return driver.run("put", *chunks, *once, *flags, str(source), url)


def _keep(printed: dict[str, dict[str, Any]], lane: Lane, what: str, outcome: Outcome) -> None:
    name = f"{lane.proxy.upstream}-{lane.target.scheme}"
    printed.setdefault(name, {})[what] = {"exit": outcome.exit_code, "output": outcome.output}


@pytest.mark.parametrize("case", REFUSED, ids=[case.id for case in REFUSED])
def test_refused_upload_fails_visibly_and_stores_nothing(
    lane: Lane, files: dict[bool, Path], printed: dict[str, dict[str, Any]], case: Case
) -> None:
    source = files[case.large]
    key = _key(case.client, source)
    outcome = _upload(lane, case.client, case.flags, source, key, retries=False)
    _keep(printed, lane, f"{case.client} {'put' if 's3cmd' in case.client else 's3 cp'}"
          f" {' '.join(case.flags)}{' (multipart)' if case.large else ''}", outcome)  # fmt: skip
    assert outcome.exit_code != 0, outcome.output
    assert case.code in outcome.output, outcome.output
    assert not lane.stored(key), f"{key} was stored"
    assert lane.uploads(key) == [], "a multipart upload was left behind"


@pytest.mark.parametrize("name", ["awscli-v1", "awscli-v2"])
@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_put_bucket_versioning_is_refused(
    lane: Lane, printed: dict[str, dict[str, Any]], name: str, status: str
) -> None:
    outcome = _driver(lane, name).run(
        "s3api", "put-bucket-versioning", "--bucket", lane.bucket,
        "--versioning-configuration", f"Status={status}",
    )  # fmt: skip
    _keep(printed, lane, f"{name} s3api put-bucket-versioning Status={status}", outcome)
    assert outcome.exit_code != 0, outcome.output
    assert "NotImplemented" in outcome.output, outcome.output
    assert "x-amz-" not in outcome.output, "refused for a header, not for versioning"
    assert "Status" not in lane.s3.get_bucket_versioning(Bucket=lane.bucket)


@pytest.mark.parametrize("name", ["rclone-pypi", "rclone-debian"])
def test_rclone_backend_versioning(
    lane: Lane, printed: dict[str, dict[str, Any]], name: str
) -> None:
    driver = _driver(lane, name)
    asked = driver.run("backend", "versioning", f"proxy:{lane.bucket}")
    _keep(printed, lane, f"{name} backend versioning", asked)
    assert asked.exit_code == 0, asked.output
    assert "Unversioned" in asked.output, asked.output
    enabled = driver.run("backend", "versioning", f"proxy:{lane.bucket}", "Enabled")
    _keep(printed, lane, f"{name} backend versioning Enabled", enabled)
    assert enabled.exit_code != 0, enabled.output
    assert "NotImplemented" in enabled.output, enabled.output
    assert "x-amz-" not in enabled.output, "refused for a header, not for versioning"
    assert "Status" not in lane.s3.get_bucket_versioning(Bucket=lane.bucket)


@pytest.mark.parametrize("name", ["awscli-v1", "awscli-v2"])
@pytest.mark.parametrize("large", [False, True], ids=["small", "multipart"])
def test_storage_class_option_is_kept(
    lane: Lane, files: dict[bool, Path], printed: dict[str, dict[str, Any]], name: str, large: bool
) -> None:
    """``aws s3 cp --storage-class STANDARD_IA`` (once refused here), then ``s3api
    head-object``: the class is kept and shown (issue 17.2)."""
    source = files[large]
    key = _key(name, source)
    stored = _upload(lane, name, ("--storage-class", "STANDARD_IA"), source, key)
    assert stored.exit_code == 0, stored.output
    head = _driver(lane, name).run("s3api", "head-object", "--bucket", lane.bucket, "--key", key)
    _keep(
        printed,
        lane,
        f"{name} s3api head-object (STANDARD_IA{', multipart' if large else ''})",
        head,
    )
    assert head.exit_code == 0, head.output
    assert json.loads(head.output)["StorageClass"] == "STANDARD_IA", head.output


def _anonymous_get(lane: Lane, key: str) -> tuple[int, bytes]:
    """An unsigned GET, as curl sends it (the lane's CA for HTTPS)."""
    import ssl
    import urllib.error
    import urllib.request

    context = None
    if lane.target.ca_file is not None:
        context = ssl.create_default_context(cafile=str(lane.target.ca_file))
    url = f"{lane.target.endpoint}/{lane.bucket}/{key}"
    try:
        with urllib.request.urlopen(url, context=context, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


@pytest.mark.parametrize(
    ("name", "public", "private"),
    [
        ("awscli-v2", ("s3api", "put-bucket-acl", "--acl", "public-read", "--bucket"),
         ("s3api", "put-bucket-acl", "--acl", "private", "--bucket")),
        ("s3cmd-v4", ("setacl", "--acl-public"), ("setacl", "--acl-private")),
    ],
    ids=["awscli-v2", "s3cmd-v4"],
)  # fmt: skip
def test_public_bucket_then_anonymous_get(
    lane: Lane,
    files: dict[bool, Path],
    printed: dict[str, dict[str, Any]],
    name: str,
    public: tuple[str, ...],
    private: tuple[str, ...],
) -> None:
    """A bucket made public-read by the client (issue 17.3), then an anonymous GET of an
    object in it; ``s3cmd info`` / ``s3api get-bucket-acl`` show the grant; private again."""
    driver = _driver(lane, name)
    key = _key(name, files[False])
    lane.s3.put_object(Bucket=lane.bucket, Key=key, Body=SMALL)
    target = (f"s3://{lane.bucket}",) if name.startswith("s3cmd") else (lane.bucket,)
    assert _anonymous_get(lane, key)[0] == 403
    made = driver.run(*public, *target)
    _keep(printed, lane, f"{name} {' '.join(public)}", made)
    try:
        assert made.exit_code == 0, made.output
        assert _anonymous_get(lane, key) == (200, SMALL)
        if name.startswith("s3cmd"):
            shown = driver.run("info", f"s3://{lane.bucket}")
            assert "*anon*: READ" in shown.output, shown.output
        else:
            shown = driver.run("s3api", "get-bucket-acl", "--bucket", lane.bucket)
            assert "global/AllUsers" in shown.output, shown.output
        _keep(printed, lane, f"{name} acl shown", shown)
    finally:
        undone = driver.run(*private, *target)
    assert undone.exit_code == 0, undone.output
    assert _anonymous_get(lane, key)[0] == 403


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("awscli-v1", ("--acl", "public-read")),
        ("awscli-v2", ("--acl", "public-read")),
        ("s3cmd-v4", ("--acl-public",)),
        ("s3cmd-v2", ("--acl-public",)),
    ],
    ids=["awscli-v1", "awscli-v2", "s3cmd-v4", "s3cmd-v2"],
)
@pytest.mark.parametrize("large", [False, True], ids=["small", "multipart"])
def test_public_object_then_anonymous_get(
    lane: Lane,
    files: dict[bool, Path],
    printed: dict[str, dict[str, Any]],
    name: str,
    flags: tuple[str, ...],
    large: bool,
) -> None:
    """``aws s3 cp --acl public-read`` / ``s3cmd put --acl-public`` (refused before issue 17;
    of a multipart-sized file, until the ACL travelled to Complete), then an anonymous GET of
    that object as curl sends it; no upload is left behind; its neighbours stay private."""
    source = files[large]
    key = _key(name, source)
    stored = _upload(lane, name, flags, source, key)
    _keep(printed, lane, f"{name} upload {' '.join(flags)}{' (multipart)' * large}", stored)
    assert stored.exit_code == 0, stored.output
    assert _anonymous_get(lane, key) == (200, source.read_bytes())
    assert lane.uploads(key) == []
    if name.startswith("s3cmd"):
        shown = _driver(lane, name).run("info", f"s3://{lane.bucket}/{key}")
        _keep(printed, lane, f"{name} info (public object)", shown)
        assert "*anon*: READ" in shown.output, shown.output
    neighbour = _key(name, source)
    lane.s3.put_object(Bucket=lane.bucket, Key=neighbour, Body=SMALL)
    assert _anonymous_get(lane, neighbour)[0] == 403
