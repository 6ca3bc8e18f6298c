"""Flexible checksums against botocore's own implementations and published vectors."""

import base64
import random

import pytest
from botocore.httpchecksum import (
    Crc32Checksum,
    CrtCrc32cChecksum,
    CrtCrc64NvmeChecksum,
    Sha1Checksum,
    Sha256Checksum,
)
from starlette.datastructures import Headers

from s3proxy.checksums import (
    ALGORITHMS,
    ChecksumVerifier,
    algorithm_of_header,
    checksum_type_header,
    decode_value,
    header_name,
    multipart_checksum_type,
    new_checksum,
)
from s3proxy.errors import S3Error, S3ErrorCode

BOTOCORE = {
    "CRC32": Crc32Checksum,
    "CRC32C": CrtCrc32cChecksum,
    "CRC64NVME": CrtCrc64NvmeChecksum,
    "SHA1": Sha1Checksum,
    "SHA256": Sha256Checksum,
}
DATA = random.Random(7).randbytes(300_000)


def b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def botocore_b64(algorithm: str, data: bytes) -> str:
    checksum = BOTOCORE[algorithm]()
    checksum.update(data)
    return str(checksum.b64digest())


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_matches_botocore_over_random_splits(algorithm: str) -> None:
    rng = random.Random(algorithm)
    checksum = new_checksum(algorithm)
    pos = 0
    while pos < len(DATA):
        step = rng.choice([1, 7, 4096, 65536, 100_000])
        piece = DATA[pos : pos + step]
        checksum.update(memoryview(piece) if step % 2 else piece)
        pos += step
    assert checksum.digest_b64() == botocore_b64(algorithm, DATA)
    assert checksum.algorithm == algorithm


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", b64(0xCBF43926, 4)),
        ("CRC32C", b64(0xE3069283, 4)),
        ("CRC64NVME", b64(0xAE8B14860A799888, 8)),
        (
            "SHA1",
            base64.b64encode(bytes.fromhex("f7c3bc1d808e04732adf679965ccc34ca7ae3441")).decode(),
        ),
    ],
)
def test_known_vectors(algorithm: str, expected: str) -> None:
    checksum = new_checksum(algorithm)
    checksum.update(b"123456789")
    assert checksum.digest_b64() == expected


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_input_matches_botocore(algorithm: str) -> None:
    assert new_checksum(algorithm).digest_b64() == botocore_b64(algorithm, b"")


def test_header_names() -> None:
    assert header_name("CRC64NVME") == "x-amz-checksum-crc64nvme"
    for algorithm in ALGORITHMS:
        assert algorithm_of_header(header_name(algorithm)) == algorithm
        assert algorithm_of_header(header_name(algorithm).upper()) == algorithm
    for other in ("x-amz-checksum-algorithm", "x-amz-checksum-mode", "x-amz-checksum-md5", ""):
        assert algorithm_of_header(other) is None


def test_unknown_algorithm_is_invalid_request() -> None:
    with pytest.raises(S3Error) as raised:
        new_checksum("MD5")
    assert raised.value.code is S3ErrorCode.InvalidRequest
    assert raised.value.message == "Value for x-amz-checksum-algorithm header is invalid."
    assert new_checksum("crc32c").algorithm == "CRC32C"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_verifier_from_header_value(algorithm: str) -> None:
    value = botocore_b64(algorithm, DATA)
    verifier = ChecksumVerifier.from_headers({header_name(algorithm): value})
    assert verifier is not None and verifier.algorithm == algorithm
    verifier.update(DATA)
    assert verifier.verify() == value


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_verifier_mismatch_is_bad_digest(algorithm: str) -> None:
    verifier = ChecksumVerifier(algorithm, botocore_b64(algorithm, DATA))
    verifier.update(DATA[:-1])
    with pytest.raises(S3Error) as raised:
        verifier.verify()
    assert raised.value.code is S3ErrorCode.BadDigest
    assert raised.value.message == (
        f"The {algorithm} you specified did not match the calculated checksum."
    )


@pytest.mark.parametrize(
    ("algorithm", "value"),
    [
        ("CRC32", "not base64!"),
        ("CRC32", "AAAAAAAA"),  # 6 bytes
        ("CRC32C", ""),
        ("CRC64NVME", "AAAAAA=="),  # 4 bytes, not 8
        ("SHA256", base64.b64encode(b"x" * 31).decode()),
        ("SHA1", "AAAA AAAA"),
    ],
)
def test_malformed_value_is_invalid_request(algorithm: str, value: str) -> None:
    with pytest.raises(S3Error) as raised:
        ChecksumVerifier.from_headers({header_name(algorithm): value})
    assert raised.value.code is S3ErrorCode.InvalidRequest
    assert raised.value.message == f"Value for {header_name(algorithm)} header is invalid."
    with pytest.raises(S3Error):
        decode_value(algorithm, value)


def test_multiple_checksum_headers_are_rejected() -> None:
    headers = {
        "x-amz-checksum-crc32": botocore_b64("CRC32", b""),
        "x-amz-checksum-sha1": botocore_b64("SHA1", b""),
    }
    with pytest.raises(S3Error) as raised:
        ChecksumVerifier.from_headers(headers)
    assert raised.value.code is S3ErrorCode.InvalidRequest
    assert raised.value.message.startswith("Expecting a single x-amz-checksum- header.")


def test_header_value_and_trailer_together_are_rejected() -> None:
    headers = {
        "x-amz-checksum-crc32": botocore_b64("CRC32", b""),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    with pytest.raises(S3Error) as raised:
        ChecksumVerifier.from_headers(headers)
    assert raised.value.code is S3ErrorCode.InvalidRequest


def test_trailer_verifier_takes_the_value_later() -> None:
    headers = {"x-amz-sdk-checksum-algorithm": "CRC32C", "x-amz-trailer": "x-amz-checksum-crc32c"}
    verifier = ChecksumVerifier.from_headers(headers)
    assert verifier is not None and verifier.algorithm == "CRC32C"
    assert verifier.expected_b64 is None
    verifier.update(DATA)
    assert verifier.verify(botocore_b64("CRC32C", DATA)) == botocore_b64("CRC32C", DATA)
    with pytest.raises(S3Error) as raised:
        verifier.verify(botocore_b64("CRC32C", b"other"))
    assert raised.value.code is S3ErrorCode.BadDigest
    with pytest.raises(S3Error) as raised:
        verifier.verify()  # the trailer never came: fail closed
    assert raised.value.code is S3ErrorCode.InvalidRequest


def test_case_insensitive_header_mappings_work() -> None:
    value = botocore_b64("SHA256", b"abc")
    headers = Headers({"X-Amz-Checksum-SHA256": value})
    verifier = ChecksumVerifier.from_headers(headers)
    assert verifier is not None and verifier.algorithm == "SHA256"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"x-amz-sdk-checksum-algorithm": "CRC32"},
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* "
            "or x-amz-trailer headers were found.",
        ),
        (
            {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-trailer": "x-amz-checksum-sha1"},
            "Value for x-amz-sdk-checksum-algorithm header is invalid.",
        ),
        (
            {"x-amz-sdk-checksum-algorithm": "BLAKE3", "x-amz-checksum-crc32": "AAAAAA=="},
            "Value for x-amz-sdk-checksum-algorithm header is invalid.",
        ),
        (
            {"x-amz-trailer": "x-amz-meta-foo"},
            "The value specified in the x-amz-trailer header is not supported",
        ),
    ],
)
def test_header_combinations_rejected(headers: dict[str, str], message: str) -> None:
    with pytest.raises(S3Error) as raised:
        ChecksumVerifier.from_headers(headers)
    assert raised.value.code is S3ErrorCode.InvalidRequest
    assert raised.value.message == message


def test_no_checksum_headers_means_no_verifier() -> None:
    assert ChecksumVerifier.from_headers({"x-amz-checksum-mode": "ENABLED"}) is None
    sdk_lower = {"x-amz-sdk-checksum-algorithm": "crc32", "x-amz-checksum-crc32": "AAAAAA=="}
    verifier = ChecksumVerifier.from_headers(sdk_lower)
    assert verifier is not None and verifier.algorithm == "CRC32"


@pytest.mark.parametrize(
    ("algorithm", "requested", "expected"),
    [
        ("CRC32", None, "COMPOSITE"),
        ("CRC32C", "full_object", "FULL_OBJECT"),
        ("CRC64NVME", None, "FULL_OBJECT"),
        ("CRC64NVME", "FULL_OBJECT", "FULL_OBJECT"),
        ("SHA256", "COMPOSITE", "COMPOSITE"),
        (None, None, None),
    ],
)
def test_multipart_checksum_type_follows_s3s_rules(
    algorithm: str | None, requested: str | None, expected: str | None
) -> None:
    assert multipart_checksum_type(algorithm, requested) == expected


@pytest.mark.parametrize(
    ("algorithm", "requested"),
    [("CRC64NVME", "COMPOSITE"), ("SHA1", "FULL_OBJECT"), ("CRC32", "WHOLE"), (None, "COMPOSITE")],
)
def test_checksum_types_an_algorithm_lacks_are_invalid_request(
    algorithm: str | None, requested: str
) -> None:
    with pytest.raises(S3Error) as caught:
        multipart_checksum_type(algorithm, requested)
    assert caught.value.code is S3ErrorCode.InvalidRequest


def test_checksum_type_header_is_derived_from_the_value() -> None:
    assert checksum_type_header({"x-amz-checksum-crc32": "AAAAAA==-3"}) == [
        ("x-amz-checksum-type", "COMPOSITE")
    ]
    assert checksum_type_header({"x-amz-checksum-crc64nvme": "AAAAAAAAAAA="}) == [
        ("x-amz-checksum-type", "FULL_OBJECT")
    ]
    reported = {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-type": "FULL_OBJECT"}
    assert checksum_type_header(reported) == []  # the upstream said it already
    assert checksum_type_header({"x-amz-mp-parts-count": "2"}) == []
