"""The early 200 of CopyObject, UploadPartCopy and CompleteMultipartUpload: S3's answer to work
that outlasts a client's read timeout.

S3 answers these three operations with 200 and its headers once it has begun the work, then
sends whitespace while it works, then the result document, or an ``<Error>`` document inside
the 200 when the work fails after the answer began (CopyObject's reference: "a 200 OK response
can contain valid or invalid error"; CompleteMultipartUpload's: "While processing is in
progress, Amazon S3 periodically sends white space characters to keep the connection from
timing out"). botocore reads an ``<Error>`` in a 200 as a 500 carrying the error it names
(``_handle_200_error``, for every S3 operation that answers a document), which it retries, so
the client sees that error once its retries are spent; the other SDKs read it too. Before
wave 18 the gateway sent nothing until the work was done: a copy whose bytes pass through the
gateway (between upstreams, a multipart source's MD5 ETag, a new checksum:
:mod:`s3proxy.backends.part_copy`) or a long Complete on Ceph RGW or SeaweedFS passed
botocore's 60 s read timeout; the client sent the request again and the work was done twice,
or the Complete's retry met NoSuchUpload.

So :func:`served` runs such a request's handler (with its granted-source retry,
:mod:`s3proxy.granted_reads`) in a task of its own. The handler calls :func:`ready` once it has
refused everything it refuses up front (authentication, parsing, the request's own checks) and
the work itself begins. If the work ends within ``server.early_answer_seconds`` of that, its
answer is sent as before, byte for byte (a fast copy is unchanged: no whitespace, its
Content-Length). Otherwise the 200 goes out with the headers :func:`ready` named and the XML
declaration, then a space every ``early_answer_seconds`` (as MinIO does, every 10 s: XML allows
whitespace after the declaration, not before it), then the result document, or the very
``<Error>`` document (code, message, fields, request id) the error would have had as a plain
answer. A refusal that comes after the answer began (a source changed under the copy, an upload
aborted meanwhile) is thus that ``<Error>`` in a 200, as on S3; one that comes before it (the
source's conditions, decided by the first upstream request) stays a plain 4xx.

The access line and the metrics record the outcome, not the 200 sent first: an error's status
and code, and ``early: true`` on every early answer. The gateway's own waiting is no stall
(:mod:`s3proxy.stalled_answers` counts writes that wait for their client: a space every few
seconds never fills a buffer). A client that leaves during the wait leaves the work to end as
it would have ended without the early answer (its slot is held until then); a shutdown that
cuts the request cancels the work, as it cancels any request.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.operations import Operation
from s3proxy.responses import S3Response
from s3proxy.xmlcodec import XML_DECLARATION

__all__ = ["OPERATIONS", "ready", "served"]

log = logging.getLogger("s3proxy")

OPERATIONS = frozenset(
    {Operation.CopyObject, Operation.UploadPartCopy, Operation.CompleteMultipartUpload}
)
"""The operations S3 answers early: the three whose references say a 200 may carry an error."""
DECLARATION = XML_DECLARATION.encode()
BEAT = b" "

Headers = tuple[tuple[str, str], ...]
_READY: contextvars.ContextVar[asyncio.Future[Headers] | None] = contextvars.ContextVar(
    "s3proxy_early_answer", default=None
)
"""The running request's "ready" future (set in its handler's task only): its result is the
headers of the early 200."""

RenderError = Callable[[S3Error], S3Response]
"""The plain answer to an error (the app's own rendering, so the document is the same)."""


def ready(headers: Sequence[tuple[str, str]] = ()) -> None:
    """The running request has nothing left to refuse up front and begins its work; its answer
    will carry ``headers`` (beside its Content-Type), which the early 200 then carries. A
    second call (a granted source's retry of the copy) changes nothing. Outside
    :func:`served` (an anonymous request, a unit test calling a handler), nothing."""
    future = _READY.get()
    if future is not None and not future.done():
        future.set_result(tuple(headers))


async def served(
    work: Coroutine[Any, Any, S3Response],
    entry: dict[str, Any],
    delay: float,
    render_error: RenderError,
) -> S3Response:
    """``work``'s answer (or its error raised) when it ends within ``delay`` seconds of its
    :func:`ready`, else the early 200 that sends it (module docstring). ``entry``: the access
    line, which an early answer completes with its outcome."""
    future: asyncio.Future[Headers] = asyncio.get_running_loop().create_future()
    context = contextvars.copy_context()
    context.run(_READY.set, future)
    task = asyncio.create_task(work, context=context)
    try:
        await asyncio.wait((task, future), return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait((task,), timeout=delay)
    except asyncio.CancelledError:  # the shutdown timeout cut the request: the work with it
        await _cancelled(task)
        raise
    finally:
        future.cancel()
    if task.done():
        return task.result()
    entry["early"] = True
    headers = [("Content-Type", "application/xml"), *future.result()]
    return S3Response(
        headers=headers,
        body=_answer(task, delay, entry, render_error),
        close=lambda: _ended(task),
        prompt=True,
    )


async def _answer(
    task: asyncio.Task[S3Response], interval: float, entry: dict[str, Any], render: RenderError
) -> AsyncIterator[bytes]:
    """The early 200's body: the declaration, a space every ``interval`` seconds while the
    work runs, then its document (without the declaration sent already)."""
    yield DECLARATION
    try:
        while not (await asyncio.wait((task,), timeout=interval))[0]:
            yield BEAT
    except asyncio.CancelledError:
        task.cancel()
        raise
    try:
        result = task.result()
    except S3Error as error:
        result = _error(error, entry, render)
    except Exception:
        log.exception("request %s failed", entry.get("request_id"))
        result = _error(S3Error(S3ErrorCode.InternalError), entry, render)
    try:
        if isinstance(result.body, bytes):
            yield result.body.removeprefix(DECLARATION)
        else:  # (no such answer today: every one of the three is one document)
            first = True
            async for chunk in result.body:
                yield chunk.removeprefix(DECLARATION) if first else chunk
                first = False
    finally:
        if result.close is not None:
            await result.close()


def _error(error: S3Error, entry: dict[str, Any], render: RenderError) -> S3Response:
    """The document of ``error`` as its plain answer would be, its outcome in the line."""
    answer = render(error)
    entry.update(status=answer.status, error=error.code.name)
    return answer


async def _ended(task: asyncio.Task[S3Response]) -> None:
    """After the early answer (sent, or left by its client): the work's end awaited, so the
    request's slot is held while it runs, as without an early answer; a cut (the shutdown
    timeout cancelled the request, now or while its answer was being sent) cancels it."""
    current = asyncio.current_task()
    if current is not None and current.cancelling():
        await _cancelled(task)
        return
    try:
        await asyncio.wait((task,))
    except asyncio.CancelledError:
        await _cancelled(task)
        raise
    if not task.cancelled() and task.exception() is not None:  # (its client had gone)
        log.debug("request's work failed after its client left: %r", task.exception())


async def _cancelled(task: asyncio.Task[S3Response]) -> None:
    task.cancel()
    await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" at collection
