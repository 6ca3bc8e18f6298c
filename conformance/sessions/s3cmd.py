"""s3cmd 2.4 (PyPI), signing with SigV4 or SigV2, with or without ``bucket_location``.

Without ``bucket_location`` s3cmd signs with the region "US" and asks ``GET /bkt/?location``
before bucket operations; with ``signature_v2 = True`` it sends ``Authorization: AWS key:sig``
(S3-NOTES.md). It lists with ListObjects V1 and deletes many keys with DeleteObjects carrying
Content-MD5. ``--multipart-chunk-size-mb=5`` (s3cmd's minimum) puts the 12 MiB file in three
parts; ``signurl`` makes a query-signed URL.
"""

from __future__ import annotations

from pathlib import Path

from conformance.sessions.base import (
    Listing,
    Outcome,
    Target,
    clean_env,
    run_command,
    run_outcome,
)


class S3cmd:
    """The ``s3cmd`` executable with its own config file."""

    def __init__(
        self,
        executable: str,
        target: Target,
        work: Path,
        *,
        signature_v2: bool,
        bucket_location: str | None,
    ) -> None:
        work.mkdir(parents=True, exist_ok=True)
        config = work / "s3cfg"
        lines = [
            "[default]",
            f"access_key = {target.access_key}",
            f"secret_key = {target.secret_key}",
            f"host_base = {target.host_port}",
            f"host_bucket = {target.host_port}",
            f"use_https = {target.scheme == 'https'}",
            f"signature_v2 = {signature_v2}",
        ]
        if bucket_location is not None:
            lines.append(f"bucket_location = {bucket_location}")
        if target.ca_file is not None:
            lines += [
                f"ca_certs_file = {target.ca_file}",
                "check_ssl_certificate = True",
                "signurl_use_https = True",  # else signurl writes http:// URLs
            ]
        config.write_text("\n".join(lines) + "\n")
        self._env = clean_env()
        self._env["HOME"] = str(work)  # no ~/.s3cfg from the machine
        self._argv = [executable, "-c", str(config)]

    def run(self, *args: str) -> Outcome:
        """Any ``s3cmd`` command line (after the proxy and credential options), not checked."""
        return run_outcome([*self._argv, *args], self._env)

    def _s3cmd(self, *args: str) -> str:
        return run_command([*self._argv, *args], self._env)

    @staticmethod
    def _after(line: str, url: str) -> str | None:
        index = line.find(url)
        return None if index < 0 else line[index + len(url) :]

    def make_bucket(self, bucket: str) -> None:
        self._s3cmd("mb", f"s3://{bucket}")

    def list_buckets(self) -> list[str]:
        names = (self._after(line, "s3://") for line in self._s3cmd("ls").splitlines())
        return [name for name in names if name is not None]

    def upload(self, source: Path, bucket: str, key: str) -> None:
        self._s3cmd("put", str(source), f"s3://{bucket}/{key}")

    def upload_multipart(self, source: Path, bucket: str, key: str) -> None:
        self._s3cmd("put", "--multipart-chunk-size-mb=5", str(source), f"s3://{bucket}/{key}")

    def _listed(self, bucket: str, *args: str) -> list[tuple[bool, str]]:
        url = f"s3://{bucket}/"
        entries: list[tuple[bool, str]] = []
        for line in self._s3cmd("ls", *args).splitlines():
            name = self._after(line, url)
            if name is not None:
                entries.append((line.split()[0] == "DIR", name))
        return entries

    def list_level(self, bucket: str, prefix: str) -> Listing:
        entries = self._listed(bucket, f"s3://{bucket}/{prefix}")
        return Listing(
            frozenset(name for is_dir, name in entries if not is_dir),
            frozenset(name for is_dir, name in entries if is_dir),
        )

    def list_recursive(self, bucket: str) -> list[str]:
        return [name for _, name in self._listed(bucket, "--recursive", f"s3://{bucket}")]

    def download(self, bucket: str, key: str, target: Path) -> None:
        self._s3cmd("get", "--force", f"s3://{bucket}/{key}", str(target))

    def sync_up(self, source: Path, bucket: str, prefix: str) -> None:
        self._s3cmd("sync", f"{source}/", f"s3://{bucket}/{prefix}")

    def sync_down(self, bucket: str, prefix: str, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        self._s3cmd("sync", f"s3://{bucket}/{prefix}", f"{target}/")

    def presign(self, bucket: str, key: str) -> str:
        return self._s3cmd("signurl", f"s3://{bucket}/{key}", "+600").strip()

    def remove_recursive(self, bucket: str) -> None:
        self._s3cmd("del", "--recursive", "--force", f"s3://{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self._s3cmd("rb", f"s3://{bucket}")
