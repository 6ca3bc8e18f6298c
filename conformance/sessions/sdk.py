"""boto3, as applications use it: plain (defaults), and with ``awscrt`` choosing CRC32C/CRC64NVME.

Plain boto3 (≥ 1.36) sends a CRC32 with every upload (a header over HTTP, an ``aws-chunked``
trailer over HTTPS) and presigns with SigV2 query auth unless told ``s3v4``. With ``awscrt``
installed botocore can compute CRC32C and CRC64NVME, the algorithms newer SDKs pick: that
variant asks for CRC32C on the small upload and CRC64NVME on the multipart one, and presigns
with SigV4. Uploads and downloads go through ``upload_file``/``download_file`` (s3transfer),
multipart above 5 MiB in 5 MiB parts. boto3 has no sync: the session's sync is the loop an
application writes (list, then copy what is missing). Retries are off in both, so that a bad
answer fails its step instead of being retried away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.sessions.base import ClientUnavailable, Listing, MiB, Target


class Boto3:
    """A boto3 S3 client in this process; ``crt`` picks CRC32C/CRC64NVME and SigV4 presigning."""

    def __init__(self, target: Target, *, crt: bool) -> None:
        import boto3  # type: ignore[import-untyped]
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
        from botocore.config import Config

        if crt:
            try:
                import awscrt  # type: ignore[import-untyped]  # noqa: F401
            except ImportError as error:
                raise ClientUnavailable("awscrt is not installed: pip install awscrt") from error
        session = boto3.session.Session(
            aws_access_key_id=target.access_key,
            aws_secret_access_key=target.secret_key,
            region_name=target.region,
        )
        config = Config(retries={"total_max_attempts": 1})  # a bad answer fails the step
        if crt:
            config = config.merge(Config(signature_version="s3v4"))
        self._s3: Any = session.client(
            "s3",
            endpoint_url=target.endpoint,
            verify=str(target.ca_file) if target.ca_file is not None else True,
            config=config,
        )
        self._transfer: Any = TransferConfig(
            multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4
        )
        self._small_args = {"ChecksumAlgorithm": "CRC32C"} if crt else {}
        self._large_args = {"ChecksumAlgorithm": "CRC64NVME"} if crt else {}

    def make_bucket(self, bucket: str) -> None:
        self._s3.create_bucket(Bucket=bucket)

    def list_buckets(self) -> list[str]:
        return [b["Name"] for b in self._s3.list_buckets()["Buckets"]]

    def upload(self, source: Path, bucket: str, key: str) -> None:
        self._s3.upload_file(
            str(source), bucket, key, ExtraArgs=self._small_args, Config=self._transfer
        )

    def upload_multipart(self, source: Path, bucket: str, key: str) -> None:
        self._s3.upload_file(
            str(source), bucket, key, ExtraArgs=self._large_args, Config=self._transfer
        )

    def list_level(self, bucket: str, prefix: str) -> Listing:
        page = self._s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return Listing(
            frozenset(item["Key"] for item in page.get("Contents", [])),
            frozenset(item["Prefix"] for item in page.get("CommonPrefixes", [])),
        )

    def _keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def list_recursive(self, bucket: str) -> list[str]:
        return self._keys(bucket)

    def download(self, bucket: str, key: str, target: Path) -> None:
        self._s3.download_file(bucket, key, str(target), Config=self._transfer)

    def sync_up(self, source: Path, bucket: str, prefix: str) -> None:
        present = set(self._keys(bucket, prefix))
        for path in sorted(source.rglob("*")):
            key = prefix + path.relative_to(source).as_posix()
            if path.is_file() and key not in present:
                self.upload(path, bucket, key)

    def sync_down(self, bucket: str, prefix: str, target: Path) -> None:
        for key in self._keys(bucket, prefix):
            path = target / key[len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            self.download(bucket, key, path)

    def presign(self, bucket: str, key: str) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600
        )
        return url

    def remove_recursive(self, bucket: str) -> None:
        keys = self._keys(bucket)
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            answer = self._s3.delete_objects(Bucket=bucket, Delete={"Objects": batch})
            if answer.get("Errors"):
                raise RuntimeError(f"DeleteObjects errors: {answer['Errors'][:3]}")

    def remove_bucket(self, bucket: str) -> None:
        self._s3.delete_bucket(Bucket=bucket)

    def close(self) -> None:
        self._s3.close()
