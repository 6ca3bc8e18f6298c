"""The one way tests, benchmarks and the upstream launchers make a boto3 S3 client."""

from __future__ import annotations

from typing import Any


def boto3_client(endpoint: str, access_key: str, secret_key: str, **config: Any) -> Any:
    """Path-style, us-east-1, SigV4; ``config`` overrides botocore ``Config`` fields."""
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config

    settings: dict[str, Any] = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "path"},
        "retries": {"max_attempts": 3, "mode": "standard"},
    }
    settings.update(config)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(**settings),
    )
