"""s3proxy.sse.refused_read: an upstream's refusal of a GET/HEAD of an SSE-C object is answered
as S3 answers it; a 400 to a read without a key is S3's InvalidRequest only where SSE-C objects
can exist (the upstream lists SSE-C), and every other answer goes through the usual table."""

from __future__ import annotations

import pytest

from s3proxy import sse
from s3proxy.errors import S3ErrorCode
from s3proxy.model import CustomerKey

BOTH = frozenset({"SSE-C", "AES256"})


KEY = CustomerKey("AES256", "a-key-as-sent", "its-md5")


@pytest.mark.parametrize("status", [400, 403])
@pytest.mark.parametrize("modes", [BOTH, frozenset({"SSE-C"})])
def test_a_refused_read_with_a_key_is_access_denied(status: int, modes: frozenset[str]) -> None:
    answer = sse.refused_read(status, KEY, modes)
    assert answer is not None and answer.code is S3ErrorCode.AccessDenied


def test_a_keyless_read_refused_400_says_the_object_is_encrypted() -> None:
    answer = sse.refused_read(400, None, BOTH)
    assert answer is not None
    assert (answer.code, answer.message) == (S3ErrorCode.InvalidRequest, sse.ENCRYPTED_OBJECT)
    assert answer.status == 400


@pytest.mark.parametrize(
    ("status", "modes"),
    [
        (400, frozenset({"AES256"})),  # no SSE-C object can be stored there
        (400, frozenset()),
        (404, BOTH),
        (416, BOTH),
        (403, BOTH),  # the gateway's own credentials refused: the usual table's 500
        (412, BOTH),
    ],
)
def test_other_keyless_answers_go_through_the_usual_table(
    status: int, modes: frozenset[str]
) -> None:
    assert sse.refused_read(status, None, modes) is None
