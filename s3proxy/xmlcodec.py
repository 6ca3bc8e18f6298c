"""S3 XML documents: the only module that renders or parses XML.

Rendering is plain string building with escaping (fast, and S3's documents are flat); parsing of
client bodies (later: CompleteMultipartUpload, DeleteObjects) goes through defusedxml with a size
cap, so hostile XML is refused before it can expand.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from s3proxy.errors import S3Error

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def error_xml(error: S3Error, request_id: str, resource: str | None = None) -> bytes:
    """The ``<Error>`` document of https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html"""
    parts = [
        XML_DECLARATION,
        "<Error><Code>",
        error.code.name,
        "</Code><Message>",
        escape(error.message),
        "</Message>",
    ]
    for name, value in error.fields.items():
        parts.append(f"<{name}>{escape(value)}</{name}>")
    if resource is not None:
        parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{request_id}</RequestId></Error>")
    return "".join(parts).encode("utf-8")
