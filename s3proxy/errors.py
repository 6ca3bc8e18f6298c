"""The one table of S3 errors, and the exception handlers raise.

Codes, statuses and messages follow AWS's "Error responses" page of the S3 API reference
(https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). Handlers raise
``S3Error(S3ErrorCode.NoSuchKey, key=...)``; only :func:`s3proxy.xmlcodec.error_xml` renders them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


@enum.unique
class S3ErrorCode(enum.Enum):
    """Each member's value is (HTTP status, default message); the member name is the S3 code."""

    AccessControlListNotSupported = (400, "The bucket does not allow ACLs")
    AccessDenied = (403, "Access Denied")
    AccessForbidden = (
        403,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution "
        "of Origin, request method / Access-Control-Request-Method or "
        "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    )
    AuthorizationHeaderMalformed = (400, "The authorization header is malformed.")
    AuthorizationQueryParametersError = (
        400,
        "Error parsing the X-Amz-Credential parameter; the query parameters are malformed.",
    )
    BadRequest = (400, "Insufficient information. Origin request header needed.")
    BadDigest = (400, "The Content-MD5 or checksum you specified did not match what we received.")
    BucketAlreadyExists = (409, "The requested bucket name is not available.")
    BucketAlreadyOwnedByYou = (
        409,
        "Your previous request to create the named bucket succeeded and you already own it.",
    )
    BucketNotEmpty = (409, "The bucket you tried to delete is not empty.")
    ConditionalRequestConflict = (
        409,
        "A conflicting operation occurred. If using PutObject you can retry the request. If "
        "using multipart upload you should initiate another CreateMultipartUpload request and "
        "re-upload each part.",
    )
    EntityTooLarge = (400, "Your proposed upload exceeds the maximum allowed object size.")
    EntityTooSmall = (400, "Your proposed upload is smaller than the minimum allowed object size.")
    IllegalLocationConstraintException = (
        400,
        "The location constraint is incompatible for the region specific endpoint this request "
        "was sent to.",
    )
    IncompleteBody = (
        400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
    )
    InternalError = (500, "We encountered an internal error. Please try again.")
    InvalidAccessKeyId = (
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    InvalidArgument = (400, "Invalid Argument")
    InvalidBucketAclWithObjectOwnership = (
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )
    InvalidBucketName = (400, "The specified bucket is not valid.")
    InvalidBucketOwnerAWSAccountID = (
        400,
        "The value of the expected bucket owner parameter must be an AWS Account ID.",
    )
    InvalidBucketState = (409, "The request is not valid with the current state of the bucket.")
    InvalidChunkSizeError = (
        403,
        "Only the last chunk is allowed to have a size less than 8192 bytes",
    )
    InvalidDigest = (400, "The Content-MD5 you specified is not valid.")
    InvalidLocationConstraint = (400, "The specified location constraint is not valid.")
    InvalidPart = (400, "One or more of the specified parts could not be found.")
    InvalidPartOrder = (400, "The list of parts was not in ascending order.")
    InvalidPartNumber = (416, "The requested partnumber is not satisfiable")
    InvalidRange = (416, "The requested range is not satisfiable")
    InvalidRequest = (400, "Invalid Request")
    InvalidStorageClass = (400, "The storage class you specified is not valid.")
    InvalidTag = (400, "The tag provided was not a valid tag.")
    InvalidToken = (400, "The provided token is malformed or otherwise invalid.")
    InvalidURI = (400, "Couldn't parse the specified URI.")
    KeyTooLongError = (400, "Your key is too long")
    MalformedACLError = (
        400,
        "The XML you provided was not well-formed or did not validate against our published "
        "schema.",
    )
    MalformedTrailerError = (
        400,
        "The request contained trailing data that was not well-formed or did not conform to "
        "our published schema.",
    )
    MalformedXML = (
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
    MetadataTooLarge = (400, "Your metadata headers exceed the maximum allowed metadata size.")
    MethodNotAllowed = (405, "The specified method is not allowed against this resource.")
    MissingContentLength = (411, "You must provide the Content-Length HTTP header.")
    MissingSecurityHeader = (400, "Your request is missing a required header.")
    NoSuchBucket = (404, "The specified bucket does not exist")
    NoSuchCORSConfiguration = (404, "The CORS configuration does not exist")
    NoSuchKey = (404, "The specified key does not exist.")
    NoSuchTagSet = (404, "The TagSet does not exist")
    NoSuchUpload = (
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed.",
    )
    NoSuchVersion = (404, "The specified version does not exist.")
    NotImplemented = (501, "A header you provided implies functionality that is not implemented")
    NotModified = (304, "Not Modified")
    ObjectLockConfigurationNotFoundError = (
        404,
        "Object Lock configuration does not exist for this bucket",
    )
    OwnershipControlsNotFoundError = (404, "The bucket ownership controls were not found")
    PreconditionFailed = (412, "At least one of the pre-conditions you specified did not hold")
    QuotaExceeded = (403, "The write would exceed a storage quota (bytes or objects).")
    RequestHeaderSectionTooLarge = (
        400,
        "The request header and query parameters used to make the request exceed the maximum "
        "allowed size.",
    )
    RequestTimeTooSkewed = (
        403,
        "The difference between the request time and the server's time is too large.",
    )
    RequestTimeout = (
        400,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period.",
    )
    ServiceUnavailable = (503, "Reduce your request rate.")
    SignatureDoesNotMatch = (
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    )
    SlowDown = (503, "Please reduce your request rate.")
    TooManyBuckets = (400, "You have attempted to create more buckets than allowed")
    UnexpectedContent = (400, "This request does not support content.")
    XAmzContentSHA256Mismatch = (
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    )

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def default_message(self) -> str:
        return self.value[1]


class S3Error(Exception):
    """An error the client sees as S3 XML.

    ``fields`` become extra elements of the ``<Error>`` document (``Key``, ``BucketName``,
    ``Condition`` …), in the order given; ``headers`` are added to the response (for example
    ``Content-Range`` on InvalidRange). Never put upstream names or hashed keys in either.
    """

    def __init__(
        self,
        code: S3ErrorCode,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **fields: str,
    ) -> None:
        self.code = code
        self.message = message or code.default_message
        self.headers = dict(headers or {})
        self.fields = fields
        super().__init__(f"{code.name}: {self.message}")

    @property
    def status(self) -> int:
        return self.code.status
