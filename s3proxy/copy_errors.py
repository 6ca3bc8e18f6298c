"""Which object a copy's NoSuchKey names: the source's key, as S3's error does.

S3 answers a CopyObject or UploadPartCopy whose source does not exist with 404 NoSuchKey whose
``<Key>`` is the *source* key (and a missing source bucket with NoSuchBucket naming the source
bucket, :meth:`s3proxy.backends.mapped.MappedStorage.existing`). Left alone, the error would
carry the request's own key, the destination's, which a client reads as "the key I am writing
does not exist".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from s3proxy.errors import S3Error, S3ErrorCode


@contextlib.contextmanager
def naming_the_source(source_key: str) -> Iterator[None]:
    """A NoSuchKey raised inside is the copy source's and names ``source_key``. Only around
    steps that read the source: a destination's NoSuchKey (If-Match on a missing object)
    names the destination."""
    try:
        yield
    except S3Error as error:
        if error.code is S3ErrorCode.NoSuchKey:
            error.fields["Key"] = source_key
        raise
