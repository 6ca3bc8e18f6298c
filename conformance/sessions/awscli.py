"""aws-cli, v1 (PyPI ``awscli``, in this venv) and v2 (Debian's ``awscli``, ``/usr/bin/aws``).

Both are driven through the high-level ``aws s3`` commands a person types. Defaults are kept
(multipart above 8 MiB in 8 MiB parts) so the session sees what users' uploads look like; only
the credentials, region and CA come from the session. Each gets a clean environment: this
machine sets ``AWS_CA_BUNDLE`` globally, and v2 is Debian's Python program, which must not see
the venv's variables. ``AWS_PAGER=""`` keeps v2 from piping output through ``less``;
``AWS_MAX_ATTEMPTS=1`` turns retries off, so a bad answer fails the step instead of being
retried away.
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


class AwsCli:
    """One ``aws`` executable, pointed at the proxy."""

    def __init__(self, executable: str, target: Target, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        config = work / "aws-config"
        config.write_text(f"[default]\nregion = {target.region}\n")
        self._config, self._region = config, target.region
        self._env = clean_env()
        self._env.update(
            AWS_ACCESS_KEY_ID=target.access_key,
            AWS_SECRET_ACCESS_KEY=target.secret_key,
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(work / "no-credentials"),
            AWS_PAGER="",
            AWS_MAX_ATTEMPTS="1",  # a failed request fails the step, as with rclone and boto3
        )
        self._argv = [executable, "--endpoint-url", target.endpoint]
        if target.ca_file is not None:
            self._argv += ["--ca-bundle", str(target.ca_file)]

    def run(self, *args: str, stdin: Path | None = None) -> Outcome:
        """Any ``aws`` command line (after the proxy and credential options), not checked;
        ``stdin``: a file piped to it (``s3 cp - s3://…``)."""
        return run_outcome([*self._argv, *args], self._env, stdin=stdin)

    def set_multipart(self, threshold_mb: int) -> None:
        """Multipart above ``threshold_mb`` MB, in parts of that size (``s3`` settings of the
        config file, as a user writes them)."""
        self._config.write_text(
            f"[default]\nregion = {self._region}\ns3 =\n"
            f"  multipart_threshold = {threshold_mb}MB\n  multipart_chunksize = {threshold_mb}MB\n"
        )

    def _aws(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        return run_command([*self._argv, *args], self._env, ok_codes=ok_codes)

    def make_bucket(self, bucket: str) -> None:
        self._aws("s3", "mb", f"s3://{bucket}")

    def list_buckets(self) -> list[str]:
        # "2026-11-29 06:00:00 name"
        return [line.split(maxsplit=2)[2] for line in self._aws("s3", "ls").splitlines()]

    def upload(self, source: Path, bucket: str, key: str) -> None:
        self._aws("s3", "cp", str(source), f"s3://{bucket}/{key}")

    def upload_multipart(self, source: Path, bucket: str, key: str) -> None:
        self.upload(source, bucket, key)  # default threshold 8 MiB: the large file goes in parts

    def list_level(self, bucket: str, prefix: str) -> Listing:
        keys: set[str] = set()
        prefixes: set[str] = set()
        for line in self._aws("s3", "ls", f"s3://{bucket}/{prefix}").splitlines():
            fields = line.split(maxsplit=3)
            if fields[0] == "PRE":
                prefixes.add(prefix + line.split("PRE ", 1)[1])
            else:
                keys.add(prefix + fields[3])
        return Listing(frozenset(keys), frozenset(prefixes))

    def list_recursive(self, bucket: str) -> list[str]:
        # exit status 1 with no output: nothing to list
        out = self._aws("s3", "ls", "--recursive", f"s3://{bucket}", ok_codes=(0, 1))
        return [line.split(maxsplit=3)[3] for line in out.splitlines()]

    def download(self, bucket: str, key: str, target: Path) -> None:
        self._aws("s3", "cp", f"s3://{bucket}/{key}", str(target))

    def sync_up(self, source: Path, bucket: str, prefix: str) -> None:
        self._aws("s3", "sync", str(source), f"s3://{bucket}/{prefix}")

    def sync_down(self, bucket: str, prefix: str, target: Path) -> None:
        self._aws("s3", "sync", f"s3://{bucket}/{prefix}", str(target))

    def presign(self, bucket: str, key: str) -> str:
        return self._aws("s3", "presign", f"s3://{bucket}/{key}", "--expires-in", "600").strip()

    def remove_recursive(self, bucket: str) -> None:
        self._aws("s3", "rm", "--recursive", f"s3://{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self._aws("s3", "rb", f"s3://{bucket}")
