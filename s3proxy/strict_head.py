"""One reading of a request head on both engines: what llhttp (uvicorn) refuses, h11 (Hypercorn)
refuses too, and the checks both engines make of a parsed head (HTTP version, target, Upgrade).

h11 is lenient where llhttp is strict, and each leniency is a way for a request to mean one thing
to whatever stands in front of the proxy and another to the proxy (request smuggling):

- a header line folded onto the previous one (obs-fold, a line starting with a space or a tab):
  h11 joins it, so ``X-A: 1\\r\\n Transfer-Encoding: chunked`` is one header here and may be two
  in front; RFC 9112 §5.2 lets a server refuse it with 400;
- a line ended by a bare LF (or a bare CR inside the head): h11 takes LF alone as a line end;
- control characters other than HT in a header (``\\x01``, DEL), which llhttp refuses;
- Content-Length twice, or as a list (``5, 5``): h11 merges equal values into one and goes on, a
  front end may take either line (RFC 9112 §6.3 says such framing is invalid unless repaired);
- a tab after ``Transfer-Encoding: chunked``, which llhttp reads as an unknown coding (501
  NotImplemented on both now, as for ``gzip``);
- in a chunked body, a chunk line ended by a bare LF (h11 waited for a CRLF that never came, up
  to its 16 KiB buffer), a chunk line still unfinished after 16 KiB (h11 answered it as a header
  section too large) or a chunk size over 64 bits (h11 reads up to 20 hex digits, llhttp
  refuses what overflows 64 bits: its value, as llhttp reads any number of leading zeros), and a
  trailer section over 16 KiB or with a line h11 alone accepts (a bare LF, a fold, a control
  character);
- in a chunked body, a chunk line llhttp's grammar refuses (:data:`_CHUNK_LINE`): h11 reads any
  bytes after a ``;`` and white space before the CRLF, so ``5 ``, ``5;`` or an extension with a
  space, a control character or an unclosed quote was a chunk on Hypercorn and a 400 on uvicorn;
  and a trailer section carrying Content-Length (400) or Transfer-Encoding (501), framing fields
  no trailer may carry (RFC 9110 §6.5.1), which llhttp refuses and h11 ignored.

Hypercorn answers each with S3's 400 InvalidRequest (hypercorn_patch) and closes the connection,
as the uvicorn engine does.

Empty lines (CRLF, or any run of CRs and LFs, as llhttp reads them) before a request line are
skipped, as llhttp does and RFC 9112 §2.2 asks; h11 answered 400. A run of spaces between the
request line's words is one space, as llhttp reads it (RFC 9112 §3 allows it); h11 answered 400.
A Content-Length over 64 bits is refused, as llhttp refuses it; h11 read any number.

Framing headers are judged in the order they come, as llhttp reads them (:func:`framing_error`):
a Transfer-Encoding other than one ``chunked`` is 501 NotImplemented, and Content-Length with
Transfer-Encoding is 400 ambiguous framing, whichever came first; h11 answered 501 for
``Content-Length: 5`` then ``Transfer-Encoding: identity``, uvicorn 400. A request start that no
request line can continue (``XYZ``, ``}``, ``get``: no method llhttp knows begins so) is refused
at once, as llhttp refuses it; h11 waited for its line end until the keep-alive timeout.

A request after which the client must close (HTTP/1.0, ``Connection: close``) and after which more
bytes come: h11 called them a protocol error and Hypercorn answered 400 in place of the request's
own answer. They are dropped instead, as uvicorn does: the connection closes after the answer and
they are never read as a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import h11
import h11._readers
from h11._receivebuffer import ReceiveBuffer

from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.http_errors import AMBIGUOUS_FRAMING, below_s3_error

HTTP_VERSIONS = (b"1.0", b"1.1")
"""The HTTP versions served, on both engines; any other is a bad request (400): h11 reads any
``HTTP/d.d`` as HTTP/1.1, llhttp serves ``HTTP/2.0`` and reads ``GET /docs`` as HTTP/0.9."""


PARSED_METHODS = frozenset(
    b"ACL BIND CHECKOUT CONNECT COPY DELETE GET HEAD LINK LOCK M-SEARCH MERGE MKACTIVITY "
    b"MKCALENDAR MKCOL MOVE NOTIFY OPTIONS PATCH POST PROPFIND PROPPATCH PURGE PUT QUERY REBIND "
    b"REPORT SEARCH SOURCE SUBSCRIBE TRACE UNBIND UNLINK UNLOCK UNSUBSCRIBE".split()
)
"""The methods llhttp (the uvicorn engine's parser) reads in an HTTP/1.x request. These reach
the application, which answers those S3 does not serve 405 (or 403 first when unsigned, as
for any request it does not serve anonymously); any other upper-case token is 405
MethodNotAllowed at the HTTP layer, on both engines (:func:`unknown_method`)."""


_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def unknown_method(method: bytes) -> bool:
    """Whether ``method`` is an upper-case token no parser here knows (``FOO``, ``BREW``,
    RTSP's ``DESCRIBE``): 405 MethodNotAllowed before the application, signed or not. uvicorn
    refused them so (llhttp stops at them) and Hypercorn passed them on, where an unsigned one
    was 403 AccessDenied. A token with a lower-case letter is a bad request (400): methods are
    case-sensitive and ASGI would upper-case it; so is HTTP/2's preface (``PRI``) and anything
    that is no token."""
    return (
        method not in PARSED_METHODS
        and method.isupper()
        and method != b"PRI"
        and _TOKEN.fullmatch(method) is not None
    )


class Refusal(int):
    """An h11 error's status (its ``error_status_hint``) carrying the S3 error to answer, where
    the status alone does not say it (405 MethodNotAllowed, ambiguous framing's message): h11
    hands Hypercorn only the status, and s3proxy.hypercorn_refusals answers this error."""

    error: S3Error

    def __new__(cls, error: S3Error) -> Refusal:
        refusal = super().__new__(cls, error.status)
        refusal.error = error
        return refusal


def refused(error: S3Error) -> h11.LocalProtocolError:
    """The h11 error by which a reader refuses a request with ``error`` (the client's error)."""
    return h11.LocalProtocolError(error.message, error_status_hint=Refusal(error))


def target_error(target: bytes) -> S3Error | None:
    """Only a path is served, on both engines: an absolute-form target (llhttp dropped its
    scheme and authority, which then named nothing), ``*`` and a target with a fragment (no
    part of a request target, RFC 9112 §3.2: llhttp dropped it, h11 kept it in the key) are
    400 InvalidURI."""
    if target[:1] != b"/" or b"#" in target:
        return S3Error(S3ErrorCode.InvalidURI)
    return None


def asks_upgrade(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request with an Upgrade header asks to switch protocols (``upgrade`` among
    its Connection options), as llhttp decides it. No upgrade is served on either engine
    (RFC 9110 §7.8 lets a server ignore it): the request is plain HTTP/1.1."""
    return any(name == b"connection" and b"upgrade" in value.lower() for name, value in headers)


def without_upgrade(request: h11.Request) -> h11.Request:
    """``request`` without its Upgrade header: Hypercorn makes a GET asking for ``websocket`` a
    WebSocket stream, which the S3 application does not serve (Hypercorn answered 500 with no
    body)."""
    return h11.Request(
        method=request.method,
        target=request.target,
        headers=[(name, value) for name, value in request.headers if name != b"upgrade"],
        http_version=request.http_version,
    )


_HEAD_END = re.compile(rb"\n\r?\n")
"""Where h11 ends a head (h11._receivebuffer.blank_line_regex)."""

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTENT_LENGTH = re.compile(rb"\ncontent-length[ \t]*:([^\r\n]*)", re.IGNORECASE)
_CODING_THEN_TAB = re.compile(rb"\ntransfer-encoding[ \t]*:[^\r\n]*\t[ \t]*\r", re.IGNORECASE)
"""A Transfer-Encoding value followed by a tab: llhttp refuses it as an unknown coding (501),
h11 strips it and reads ``chunked``."""


def head_problem(head: bytes) -> str | None:
    """Why a complete request head (request line to the blank line) must be refused, or None."""
    line_ends = head.count(b"\r\n")
    if head.count(b"\n") != line_ends or head.count(b"\r") != line_ends:
        return "a bare LF or CR in the request head"
    if b"\n " in head or b"\n\t" in head:
        return "a folded header line (obs-fold)"
    if _CONTROL.search(head) is not None:
        return "a control character in the request head"
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) > 1 or (lengths and b"," in lengths[0]):
        return "more than one Content-Length"
    if lengths and _over_64_bits(lengths[0].strip(b" \t")):
        return "a Content-Length over 64 bits"  # llhttp's limit; h11 reads any number
    return None


_FRAMING_FIELD = re.compile(rb"\n(content-length|transfer-encoding):([^\r\n]*)", re.IGNORECASE)


def framing_error(head: bytes) -> S3Error | None:
    """The framing headers of a complete head (one :func:`head_problem` passed) judged in the
    order they come, as llhttp reads them on the uvicorn engine: a Transfer-Encoding other
    than a single ``chunked`` is 501 NotImplemented where it comes, and Content-Length with
    Transfer-Encoding is 400 ambiguous framing where the second of them comes (RFC 9112 §6.1
    lets a server refuse it, and it must close). h11 read every Transfer-Encoding before any
    Content-Length: ``Content-Length: 5`` then ``Transfer-Encoding: identity`` was 501 here and
    400 on uvicorn. Both close the connection either way."""
    length = coding = False
    for field in _FRAMING_FIELD.finditer(head):
        name, value = field.group(1).lower(), field.group(2)
        if length or (coding and name == b"content-length"):
            return S3Error(S3ErrorCode.InvalidRequest, AMBIGUOUS_FRAMING)
        if name == b"content-length":
            length = True
        elif coding or value.strip(b" \t").lower() != b"chunked":
            return below_s3_error(501)
        else:
            coding = True
    return None


_READ_METHODS = PARSED_METHODS | frozenset(
    b"PRI DESCRIBE ANNOUNCE SETUP PLAY PAUSE TEARDOWN GET_PARAMETER SET_PARAMETER REDIRECT "
    b"RECORD FLUSH".split()
)
"""The methods llhttp reads a request line on with: HTTP/2's preface and RTSP's methods too,
refused once the line is whole (400; 405 for RTSP's, strict_head.unknown_method)."""
_KNOWN_STARTS = frozenset(
    method[:end] for method in _READ_METHODS for end in range(1, len(method) + 1)
)
"""Every beginning of such a method: what a request may begin with while its first word is
still arriving."""

_LONGEST_METHOD = max(len(method) for method in _READ_METHODS)


def unreadable_start(data: bytes) -> S3Error | None:
    """What llhttp answers, before the head is whole, for a request that begins with ``data``
    (its first bytes, empty lines skipped): a first word no method it knows begins with (400),
    or a whole first word that is an upper-case token it does not know (405 MethodNotAllowed,
    :func:`unknown_method`). None while ``data`` may still begin a request. h11 waited for the
    line's end (a client's stray bytes after a body held the connection for the keep-alive
    timeout) and uvicorn answered at once."""
    word, space, _ = data[: _LONGEST_METHOD + 1].partition(b" ")
    if not (word or space) or (word in _KNOWN_STARTS and (not space or word in _READ_METHODS)):
        return None
    if space and unknown_method(word):
        return S3Error(S3ErrorCode.MethodNotAllowed)
    return S3Error(S3ErrorCode.InvalidRequest, below_s3_error(400).message)


def _over_64_bits(value: bytes) -> bool:
    """Whether ``value`` is a decimal number above 2**64 - 1, compared as text (no int() of a
    16 KiB number)."""
    digits = value.lstrip(b"0")
    return value.isdigit() and (len(digits), digits) > (20, b"18446744073709551615")


def _read_head(buf: ReceiveBuffer) -> h11.Request | None:
    """h11's reader of a request head, after :func:`head_problem` passed the complete head."""
    data = buf._data
    empty_lines = _EMPTY_LINES.match(data)
    if empty_lines is not None:
        buf._extract(empty_lines.end())  # (h11: "no request line received", 400)
    end = _HEAD_END.search(data)
    if end is not None:
        head = bytes(data[: end.end()])
        problem = head_problem(head)
        if problem is not None:
            raise h11.LocalProtocolError(problem)  # h11 answers it as the client's error (400)
        if _CODING_THEN_TAB.search(head) is not None:
            raise h11.LocalProtocolError("a tab after the transfer coding", error_status_hint=501)
        framing = framing_error(head)
        if framing is not None:
            raise refused(framing)
        line = head[: head.index(b"\n") - 1]
        if not line.isascii():
            line = _encode_raw_target(buf, line)
        if b"  " in line:
            _single_spaces(buf, line)
    elif (early := unreadable_start(bytes(data[: _LONGEST_METHOD + 1]))) is not None:
        raise refused(early)
    return _h11_read_head(buf)


_RAW_BYTE = re.compile(rb"[\x80-\xff]")


def encoded_target(line: bytes) -> bytes:
    """A request line (or its beginning) with each byte of 0x80 or more after the method
    percent-encoded. S3 serves a target sent as raw UTF-8 (``GET /docs/été``) as the same bytes
    percent-encoded: the key is their UTF-8 text and the canonical URI their encoded form
    (a signature over the raw text is 403 there, JuliaCloud/AWS.jl#592). h11 and llhttp refuse
    such a target (400); read this way, it is the very request :func:`s3proxy.request._wire_text`
    makes of it."""
    method, space, rest = line.partition(b" ")
    return method + space + _RAW_BYTE.sub(lambda byte: b"%%%02X" % byte[0][0], rest)


def _encode_raw_target(buf: ReceiveBuffer, line: bytes) -> bytes:
    """The request line in h11's buffer rewritten by :func:`encoded_target` (its line search
    starts again); the new line."""
    encoded = encoded_target(line)
    buf._data[: len(line)] = encoded
    buf._next_line_search = buf._multiple_lines_search = 0
    return encoded


def _single_spaces(buf: ReceiveBuffer, line: bytes) -> None:
    """llhttp takes a run of spaces between the method and the target, or the target and the
    version, as one (RFC 9112 §3 lets a server parse on whitespace so): ``GET  /docs HTTP/1.1``
    was served on uvicorn and 400 here. The request line is rewritten with single spaces in
    h11's buffer (its line search starts again); a line with leading or trailing spaces, or
    not three words, is left for h11 to refuse, as llhttp does."""
    words = line.split()
    if len(words) == 3 and line[:1] != b" " and line[-1:] != b" " and b"\t" not in line:
        buf._data[: len(line)] = b" ".join(words)
        buf._next_line_search = buf._multiple_lines_search = 0


_EMPTY_LINES = re.compile(rb"[\r\n]+")
"""Empty lines before a request line, which a server should ignore (RFC 9112 §2.2): a client may
send a CRLF after a body. llhttp skips any run of CRs and LFs there (a bare LF too), so h11 does
here: a bare LF before a request line was 400 on Hypercorn and served on uvicorn."""

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]*")
MAX_CHUNK_SIZE_DIGITS = 16
"""Hex digits of a chunk size llhttp reads (64 bits), after its leading zeros: llhttp reads any
number of them (``0…05`` is 5), h11 at most 20 digits in all (a 400 on Hypercorn for what
uvicorn read). ChunkedReader drops the zeros before h11 reads the line: a chunk line is framing
only, never signed or seen by the application."""


_TOKEN_CHAR = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]"
_QUOTED = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*+"'
_CHUNK_LINE = re.compile(  # possessive: a 16 KiB line that fails at its end costs no backtracking
    rb"[0-9A-Fa-f]++(?:;"
    + _TOKEN_CHAR
    + rb"*+(?:="
    + _TOKEN_CHAR
    + rb"*+(?:"
    + _QUOTED
    + rb")?+)?+)*+"
)
"""A chunk line (CRLF excluded) as llhttp reads it: the size, then extensions, each a name of
token characters and an optional ``=`` value (token characters, then an optional quoted string),
no white space outside quotes; the line may not end in ``;``. Measured against llhttp
(httptools) over random lines: it takes an empty name or value where RFC 9112 wants a token."""

_FRAMING_TRAILER = re.compile(rb"\n(content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)

MAX_TRAILER_BYTES = 16 * 1024
"""A chunked body's trailer section, at most: h11 limited it only while it came in pieces (its
16 KiB buffer); on uvicorn it counts on its own against the same 16 KiB (MAX_HEAD_BYTES)."""


MAX_CHUNK_LINE_BYTES = 16 * 1024
"""A chunk line (its size and extensions) still unfinished after this many bytes is a bad
request (400), as on the uvicorn engine (uvicorn_protocol.MAX_CHUNK_FRAMING): a client must not
be read for as long as it likes without sending a byte of its body."""


class ChunkedReader(h11._readers.ChunkedReader):
    """h11's reader of a chunked body, refusing a chunk line llhttp refuses (module docstring)
    before h11 reads it."""

    def __call__(self, buf: ReceiveBuffer) -> h11.Data | h11.EndOfMessage | None:
        if self._bytes_in_chunk == 0 and not self._reading_trailer:
            data = buf._data
            start = len(self._bytes_to_discard)  # the CRLF ending the previous chunk
            line_end = data.find(b"\n", start)
            if line_end == start or (line_end > start and data[line_end - 1] != 13):
                raise h11.LocalProtocolError("a chunk line not ended by CRLF")
            if line_end < 0 and len(data) - start > MAX_CHUNK_LINE_BYTES:
                # h11 would answer 431 (its buffer outgrown) as for a header section
                raise h11.LocalProtocolError("a chunk line over 16 KiB")
            found = _CHUNK_SIZE.match(data, start)
            size = bytes(found.group()) if found is not None else b""
            significant = size.lstrip(b"0") or size[-1:]  # the last chunk's 0 kept
            if len(significant) > MAX_CHUNK_SIZE_DIGITS:
                raise h11.LocalProtocolError("a chunk size over 64 bits")
            zeros = len(size) - len(significant)
            if zeros and line_end > start:
                del data[start : start + zeros]
                buf._next_line_search = buf._multiple_lines_search = 0
                line_end -= zeros
            if line_end > start:
                line = bytes(data[start : line_end - 1])
                if _CHUNK_LINE.fullmatch(line) is None or line.endswith(b";"):
                    raise h11.LocalProtocolError("a chunk line llhttp refuses")
        elif self._reading_trailer and buf._data[:2] != b"\r\n":
            data = buf._data
            end = _HEAD_END.search(data)
            length = len(data) if end is None else end.end()
            if length > MAX_TRAILER_BYTES:
                raise h11.LocalProtocolError("a trailer section too large", error_status_hint=431)
            problem = None if end is None else head_problem(b"\r\n" + bytes(data[:length]))
            if problem is not None:
                raise h11.LocalProtocolError(problem)
            framing = None if end is None else _FRAMING_TRAILER.search(b"\n" + bytes(data[:length]))
            if framing is not None:
                status = 501 if framing.group(1).lower() == b"transfer-encoding" else 400
                raise h11.LocalProtocolError("a framing field in trailers", status)
        return super().__call__(buf)


def _drop_after_close(buf: ReceiveBuffer) -> None:
    """What a client sends after a request it must close after: dropped, never an error."""
    if buf:
        buf._extract(len(buf))


_h11_read_head = h11._readers.maybe_read_from_IDLE_client


def install() -> None:
    """Hypercorn's h11 servers read request heads with :func:`_read_head`. Only the reader of a
    client (a server's side) changes: h11 used as an HTTP client reads responses as before.
    Idempotent."""
    readers = h11._readers.READERS
    readers[(h11.CLIENT, h11.IDLE)] = _read_head
    readers[(h11.CLIENT, h11.MUST_CLOSE)] = _drop_after_close
    body_readers = readers[h11.SEND_BODY]
    assert isinstance(body_readers, dict)
    body_readers["chunked"] = ChunkedReader
