"""Upstream failures the proxy asks again about, before its client has seen anything.

An S3 upstream can fail a request that AWS S3 answers, when it races another request:

- Ceph RGW 16 answers a GET that races an overwrite of its key with 500 (``UnknownError``,
  ECANCELED: the object's head changed under the read). AWS answers such a GET with the old
  or the new object, never a 5xx. A GET or HEAD sends no body and changes nothing, so one
  answered 500 is sent once more (:func:`read_again`); its answer, whatever it is, is the
  client's. Nothing has reached the client then: the status line comes before any byte.
- Ceph RGW 16 answers a CompleteMultipartUpload that races another Complete of the same
  upload with 500 "This multipart completion is already in progress" (and keeps answering it
  for a Complete whose upload an Abort removed meanwhile). AWS documents 500 on
  CompleteMultipartUpload as an error to retry, and answers a Complete of an upload already
  completed 200 with the same ETag. So after a 500 the proxy waits (:data:`COMPLETE_DELAYS`:
  the other Complete needs time to finish; with 10,000 parts it takes seconds), still holding
  the client's request, and asks whether the upload is still there (ListParts): if so, the
  Complete is sent again; if not, NoSuchUpload, and :mod:`.upload_gone` answers 200 with the
  object's ETag when the object is the one these parts make.
- Ceph RGW 16 answers an AbortMultipartUpload racing a Complete of the same upload with 500.
  AWS orders the two: the Abort that came second is NoSuchUpload. So an Abort answered 500 is
  asked about as a Complete is: sent again while the upload is there, NoSuchUpload once gone
  (an Abort, like a Complete, can be sent twice: the second finds nothing to do).

Only 500 (InternalError) is asked again: a 503 is the upstream asking for less load (SlowDown)
and 502/504 come from something in front of it; the client's own retries, with their backoff,
are the right answer to those.
"""

from __future__ import annotations

ASKED_AGAIN = 500
"""The one upstream status asked again."""

COMPLETE_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
"""Seconds before each new CompleteMultipartUpload after a 500 (~6 s in all): what a racing
Complete of many parts may need to finish on Ceph RGW 16. A client's SDK would wait as long
between its own retries."""


def read_again(method: str, status: int, has_body: bool) -> bool:
    """Whether an upstream answer of ``status`` to a ``method`` request is asked once more:
    a 500 to a GET or HEAD without a body (reads change nothing, so asking again is safe)."""
    return status == ASKED_AGAIN and method in ("GET", "HEAD") and not has_body
