"""One scripted session, the same for every client: what a person does with an S3 tool.

Why one script for all: the compatibility matrix compares clients cell by cell, so every client
must be put through the same named steps (:data:`STEPS`) with the same files and the same checks.
What differs between clients is only *how* each step is asked for (a command line, an SDK call)
and how the client's answer is read back: that is a :class:`Driver`, one per client module.
Checks live here, in :func:`session`, never in a driver, so a driver cannot pass a step by
checking less.

Nothing here knows pytest: ``tests/clients`` runs sessions and turns step results into test
outcomes; ``python -m conformance.compat_report`` turns the recorded results into
COMPATIBILITY.md.
"""

from __future__ import annotations

import filecmp
import json
import os
import ssl
import subprocess
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

MiB = 1024 * 1024
#: Above every client's multipart threshold as configured by the drivers (aws-cli: 8 MiB
#: default; rclone, s3cmd, boto3: 5 MiB), small enough to keep the suite quick.
LARGE_SIZE = 12 * MiB + 4321
SMALL_KEY = "small/hello world.txt"
LARGE_KEY = "large/big file+1.bin"
TREE_PREFIX = "tree/"
#: Names people really have: spaces, unicode (NFC), '+', nesting, a dot file.
TREE_FILES: Mapping[str, bytes] = {
    "top.txt": b"top level\n",
    "with space/file one.txt": b"spaces in both names\n",
    "unicode/été/ü 日本.bin": bytes(range(256)) * 8,
    "plus+sign/a+b=c.txt": b"plus and equals\n",
    "deep/a/b/c/d.txt": b"deep\n",
    ".hidden": b"dot file\n",
}

StepName = Literal[
    "make_bucket",
    "list_buckets",
    "upload_small",
    "upload_multipart",
    "list",
    "list_recursive",
    "download_compare",
    "sync_up",
    "sync_down",
    "presign_fetch",
    "remove_recursive",
    "remove_bucket",
]
STEPS: tuple[StepName, ...] = (
    "make_bucket",
    "list_buckets",
    "upload_small",
    "upload_multipart",
    "list",
    "list_recursive",
    "download_compare",
    "sync_up",
    "sync_down",
    "presign_fetch",
    "remove_recursive",
    "remove_bucket",
)
Status = Literal["passed", "failed", "skipped"]


class ClientUnavailable(RuntimeError):
    """The client is not installed here; the message says how to install it."""


class StepSkipped(Exception):
    """The client has no way to do this step (e.g. no presign command)."""


@dataclass(frozen=True)
class Target:
    """The proxy a session talks to, and where its access log is."""

    endpoint: str  # http://127.0.0.1:PORT or https://…
    access_key: str
    secret_key: str
    log_path: Path
    ca_file: Path | None = None  # the CA that signed the proxy's certificate (TLS only)
    region: str = "us-east-1"

    @property
    def scheme(self) -> str:
        return urlsplit(self.endpoint).scheme

    @property
    def host_port(self) -> str:
        return urlsplit(self.endpoint).netloc

    def access_log(self, since: int = 0) -> list[dict[str, Any]]:
        """Access-log records written after byte ``since`` of the proxy's log."""
        with self.log_path.open("rb") as log:
            log.seek(since)
            lines = log.read().decode(errors="replace").splitlines()
        records: list[dict[str, Any]] = []
        for line in lines:
            if '"request_id"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def log_size(self) -> int:
        return self.log_path.stat().st_size


@dataclass(frozen=True)
class Listing:
    """One level of a delimited listing: object keys and common prefixes (full, not relative)."""

    keys: frozenset[str]
    prefixes: frozenset[str]


class Driver(Protocol):
    """How one client does each step. Raise on failure; :class:`StepSkipped` if impossible."""

    def make_bucket(self, bucket: str) -> None: ...
    def list_buckets(self) -> list[str]: ...
    def upload(self, source: Path, bucket: str, key: str) -> None: ...
    def upload_multipart(self, source: Path, bucket: str, key: str) -> None: ...
    def list_level(self, bucket: str, prefix: str) -> Listing: ...
    def list_recursive(self, bucket: str) -> list[str]: ...
    def download(self, bucket: str, key: str, target: Path) -> None: ...
    def sync_up(self, source: Path, bucket: str, prefix: str) -> None: ...
    def sync_down(self, bucket: str, prefix: str, target: Path) -> None: ...
    def presign(self, bucket: str, key: str) -> str: ...
    def remove_recursive(self, bucket: str) -> None: ...
    def remove_bucket(self, bucket: str) -> None: ...


@dataclass
class StepResult:
    name: StepName
    status: Status
    seconds: float
    detail: str = ""


@dataclass
class SessionResult:
    """One client's session against one proxy: what the matrix and the tests read."""

    client: str
    upstream: str
    scheme: str
    version: str
    bucket: str
    log_file: str
    log_start: int
    log_end: int = 0
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    def step(self, name: str) -> StepResult:
        for result in self.steps:
            if result.name == name:
                return result
        raise KeyError(name)


# --------------------------------------------------------------------------------------------
# The session


@dataclass(frozen=True)
class Step:
    name: StepName
    run: Callable[[], None]


def make_files(work: Path) -> tuple[Path, Path, Path]:
    """The small file, the large file and the tree, under ``work``; random large content."""
    work.mkdir(parents=True, exist_ok=True)
    small = work / "hello world.txt"
    small.write_bytes(b"hello from the conformance session\n")
    large = work / "big file.bin"
    large.write_bytes(os.urandom(LARGE_SIZE))
    tree = work / "tree"
    for name, data in TREE_FILES.items():
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return small, large, tree


def session(driver: Driver, target: Target, bucket: str, work: Path) -> list[Step]:
    """The steps of one session, in order; each one checks what a user would look at."""
    small, large, tree = make_files(work / "files")
    expected = {SMALL_KEY, LARGE_KEY, *(TREE_PREFIX + name for name in TREE_FILES)}

    def make_bucket() -> None:
        driver.make_bucket(bucket)

    def list_buckets() -> None:
        names = driver.list_buckets()
        _check(bucket in names, f"{bucket} not in {names}")

    def upload_small() -> None:
        driver.upload(small, bucket, SMALL_KEY)

    def upload_multipart() -> None:
        offset = target.log_size()
        driver.upload_multipart(large, bucket, LARGE_KEY)
        completed = _wait_for_records(
            target,
            offset,
            lambda r: (
                r.get("operation") == "CompleteMultipartUpload"
                and r.get("bucket") == bucket
                and r.get("status") == 200
            ),
        )
        _check(bool(completed), "the client did not upload in parts (no CompleteMultipartUpload)")

    def list_top() -> None:
        listing = driver.list_level(bucket, "")
        _check(
            {"small/", "large/"} <= listing.prefixes,
            f"prefixes {sorted(listing.prefixes)} lack small/ and large/",
        )

    def list_recursive() -> None:
        keys = set(driver.list_recursive(bucket))
        _check(keys >= {SMALL_KEY, LARGE_KEY}, f"listed {sorted(keys)}")

    def download_compare() -> None:
        for key, source in ((SMALL_KEY, small), (LARGE_KEY, large)):
            back = work / "back" / source.name
            back.parent.mkdir(parents=True, exist_ok=True)
            driver.download(bucket, key, back)
            _check(back.exists(), f"{key}: nothing downloaded")
            _check(filecmp.cmp(source, back, shallow=False), f"{key}: bytes differ")

    def sync_up() -> None:
        driver.sync_up(tree, bucket, TREE_PREFIX)
        keys = set(driver.list_recursive(bucket))
        _check(keys == expected, f"after sync up: missing {sorted(expected - keys)},"
               f" unexpected {sorted(keys - expected)}")  # fmt: skip

    def sync_down() -> None:
        target_dir = work / "synced"
        driver.sync_down(bucket, TREE_PREFIX, target_dir)
        got = {
            path.relative_to(target_dir).as_posix()
            for path in target_dir.rglob("*")
            if path.is_file()
        }
        _check(got == set(TREE_FILES), f"synced down {sorted(got)}")
        for name, data in TREE_FILES.items():
            _check((target_dir / name).read_bytes() == data, f"{name}: bytes differ")

    def presign_fetch() -> None:
        url = driver.presign(bucket, SMALL_KEY)
        status, body = fetch(url, target.ca_file)
        _check(status == 200, f"GET {_redact(url)} answered {status}: {body[:300]!r}")
        _check(body == small.read_bytes(), "presigned GET returned other bytes")

    def remove_recursive() -> None:
        driver.remove_recursive(bucket)
        left = driver.list_recursive(bucket)
        _check(not left, f"still listed: {left}")

    def remove_bucket() -> None:
        driver.remove_bucket(bucket)
        names = driver.list_buckets()
        _check(bucket not in names, f"{bucket} still listed")

    return [
        Step("make_bucket", make_bucket),
        Step("list_buckets", list_buckets),
        Step("upload_small", upload_small),
        Step("upload_multipart", upload_multipart),
        Step("list", list_top),
        Step("list_recursive", list_recursive),
        Step("download_compare", download_compare),
        Step("sync_up", sync_up),
        Step("sync_down", sync_down),
        Step("presign_fetch", presign_fetch),
        Step("remove_recursive", remove_recursive),
        Step("remove_bucket", remove_bucket),
    ]


def run_steps(steps: Sequence[Step], result: SessionResult) -> SessionResult:
    """Run every step, even after a failure (each one says what it found), recording each."""
    started = time.monotonic()
    for step in steps:
        begun = time.monotonic()
        try:
            step.run()
        except StepSkipped as skipped:
            outcome = StepResult(step.name, "skipped", time.monotonic() - begun, str(skipped))
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"[-1500:]
            if not isinstance(error, (StepFailed, CommandFailed)):
                detail += "\n" + "".join(traceback.format_exception(error)[-3:])[-1500:]
            outcome = StepResult(step.name, "failed", time.monotonic() - begun, detail)
        else:
            outcome = StepResult(step.name, "passed", time.monotonic() - begun)
        result.steps.append(outcome)
    result.seconds = time.monotonic() - started
    return result


class StepFailed(AssertionError):
    """A step ran but the client's result was wrong."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def _redact(url: str) -> str:
    return url.split("?", 1)[0] + "?…"


def _wait_for_records(
    target: Target, offset: int, match: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Matching access-log records after ``offset``; polls briefly because the proxy writes the
    record just after sending the response the client already has."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in target.access_log(offset) if match(r)]
        if found or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# Helpers for drivers


class CommandFailed(RuntimeError):
    """A client command exited non-zero; the message carries its output."""


def run_command(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = 300,
    ok_codes: tuple[int, ...] = (0,),
) -> str:
    """Run a client command, return its stdout; raise :class:`CommandFailed` unless it exits
    with one of ``ok_codes``."""
    completed = subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if completed.returncode not in ok_codes:
        output = (completed.stdout + completed.stderr).strip()
        raise CommandFailed(f"{Path(argv[0]).name} {' '.join(argv[1:3])} …"
                            f" exited {completed.returncode}: {output[-1200:]}")  # fmt: skip
    return completed.stdout


@dataclass(frozen=True)
class Outcome:
    """What a client command did, for checks that expect it to fail: exit code and output."""

    exit_code: int
    output: str  # stdout then stderr, as the user sees them


def run_outcome(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 300,
    stdin: Path | None = None,
) -> Outcome:
    """Run a client command and return its exit code and output, whatever the exit code;
    ``stdin``: a file the command reads as its standard input (``aws s3 cp - …``)."""
    with stdin.open("rb") if stdin is not None else open(os.devnull, "rb") as source:
        completed = subprocess.run(
            list(argv),
            env=dict(env),
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=source,
        )
    output = (completed.stdout + completed.stderr).decode(errors="replace")
    output = output.replace("\r\n", "\n").replace("\r", "\n")  # as text=True reads it
    return Outcome(completed.returncode, output.strip())


def clean_env(*prefixes: str) -> dict[str, str]:
    """This environment without what would redirect a client: the machine sets AWS_CA_BUNDLE
    globally, and a venv's PYTHON* variables would leak into Debian's Python programs."""
    drop = ("AWS_", "S3PROXY_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "REQUESTS_CA_BUNDLE",
            "SSL_CERT_FILE", "CURL_CA_BUNDLE", *prefixes)  # fmt: skip
    return {key: value for key, value in os.environ.items() if not key.startswith(drop)}


def fetch(url: str, ca_file: Path | None) -> tuple[int, bytes]:
    """A plain GET, as curl or a browser would send it (no S3 headers), trusting ``ca_file``."""
    context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
    request = urllib.request.Request(url, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=60, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())
