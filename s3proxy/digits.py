"""Decimal numbers a client writes (query parameters, headers, XML elements), read safely. Pure.

Why not ``int(text)`` after ``text.isdigit()``: ``isdigit`` is true for characters ``int``
refuses (``"²"``, which a latin-1 header can hold) and Python's ``int`` raises ValueError past
4,300 digits (its guard against quadratic conversion). Either was an uncaught exception, a 500
InternalError, for ``max-uploads``, ``partNumber``, ``max-buckets``, ``x-amz-max-parts``,
``x-amz-copy-source-range``, ``x-amz-decoded-content-length``, a rate-limited GET's Range, a
Complete's ``<PartNumber>`` and a CORS rule's ``<MaxAgeSeconds>`` of 5,000 digits (wave 18, I).
Here a number is ASCII digits only, and one past :data:`CAP` reads as :data:`CAP`: larger than
any size, offset, count or part number S3 knows, so every range check still refuses it, and
reading it stays linear in its length.
"""

from __future__ import annotations

CAP = 10**18
"""What a longer number reads as: past every bound checked against it (5 TiB is ~5.5e12)."""


def decimal(text: str) -> int | None:
    """``text`` as a non-negative decimal number (ASCII digits, nothing else: no sign, space
    or underscore), capped at :data:`CAP`; None when it is not one."""
    if not (text.isascii() and text.isdigit()):
        return None
    significant = text.lstrip("0")
    return int(significant or "0") if len(significant) <= 18 else CAP
