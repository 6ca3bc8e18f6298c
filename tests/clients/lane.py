"""One proxy of the client matrix with a bucket of a test module's own: the ``Lane`` the client
modules (refused options, checksums, edge sessions) share, so that how a bucket is made and
emptied, and how a command-line client is found and pointed at the proxy, is written once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.sessions.base import ClientUnavailable, Target
from conformance.sessions.clients import client
from tests.clients.conftest import RunningProxy


@dataclass
class Lane:
    """A proxy of the matrix, a bucket on it for one module, a boto3 client on the shared
    tenant, and a work directory for the command-line clients' files and configs."""

    proxy: RunningProxy
    bucket: str
    s3: Any
    work: Path

    @property
    def target(self) -> Target:
        return self.proxy.target

    @property
    def upstream(self) -> str:
        return self.proxy.upstream

    def boto3(self, **config: Any) -> Any:
        """A boto3 client on the lane's tenant, no retries, with botocore ``Config`` options."""
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config

        target = self.target
        return boto3.client(
            "s3",
            endpoint_url=target.endpoint,
            region_name=target.region,
            aws_access_key_id=target.access_key,
            aws_secret_access_key=target.secret_key,
            verify=str(target.ca_file) if target.ca_file is not None else True,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def driver(self, name: str, *, http_only: str | None = None) -> Any:
        """The command-line client ``name`` pointed at the proxy, in a directory of its own.
        ``http_only`` skips an HTTPS lane, with that reason; a missing client skips too."""
        if http_only is not None and self.target.scheme != "http":
            pytest.skip(http_only)
        spec = client(name)
        try:
            executable = spec.locate()
        except ClientUnavailable as missing:
            pytest.skip(str(missing))
        return spec.driver(executable, self.target, self.work / f"{name}-{os.urandom(2).hex()}")

    def listed(self, prefix: str = "") -> list[str]:
        """The keys under ``prefix``, every page."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def body(self, key: str) -> bytes:
        return cast(bytes, self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def stored(self, key: str) -> bool:
        """Whether HEAD finds ``key`` (any answer but 200 or 404 fails the test)."""
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 404, error.response
            return False
        return True

    def uploads(self, prefix: str = "") -> list[str]:
        """The keys of the unfinished multipart uploads under ``prefix``."""
        page = self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return [upload["Key"] for upload in page.get("Uploads", [])]


#: Why a module of command-line checks skips the HTTPS lanes: the upstream cannot change a TLS
#: session, and the client sessions already cover that leg.
HTTP_ONLY = "command-line checks run over HTTP; TLS is covered by the sessions"


@contextmanager
def lane_on(
    client_proxy: RunningProxy,
    factory: pytest.TempPathFactory,
    name: str,
    *,
    http_only: bool = False,
    **config: Any,
) -> Iterator[Lane]:
    """A :class:`Lane` with a fresh bucket ``<name>-<upstream>-<scheme>-<random>``; on the way
    out its objects and unfinished uploads are removed and the bucket deleted. ``http_only``
    skips an HTTPS lane (:data:`HTTP_ONLY`) before any bucket is made."""
    if http_only and client_proxy.target.scheme != "http":
        pytest.skip(HTTP_ONLY)
    lane_name = f"{name}-{client_proxy.upstream}-{client_proxy.target.scheme}"
    lane = Lane(client_proxy, f"{lane_name}-{os.urandom(3).hex()}", None, factory.mktemp(lane_name))
    lane.s3 = s3 = lane.boto3(**config)
    s3.create_bucket(Bucket=lane.bucket)
    try:
        yield lane
    finally:
        for key in lane.listed():
            s3.delete_object(Bucket=lane.bucket, Key=key)
        for upload in s3.list_multipart_uploads(Bucket=lane.bucket).get("Uploads", []):
            s3.abort_multipart_upload(
                Bucket=lane.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        s3.delete_bucket(Bucket=lane.bucket)
        s3.close()
