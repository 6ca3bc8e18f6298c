"""s3proxy: an S3-compatible gateway with tenants and hashed, bucket-mapped upstream keys."""

__version__ = "0.1.0"
