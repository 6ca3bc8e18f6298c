"""Request ids tell a tenant nothing about other tenants' requests (wave 17, B).

``x-amz-request-id`` came from the process's Mersenne Twister, whose whole state follows from
624 consecutive 32-bit outputs: 312 ids. A tenant that read that many answers of one worker
could compute every later id, and from the next id it got count the requests other tenants
had sent through that worker meanwhile."""

from __future__ import annotations

import os
import random
import re

from s3proxy.request import new_request_id


def _untemper(value: int) -> int:
    """The Mersenne Twister state word behind one 32-bit output (its tempering undone)."""
    value ^= value >> 18
    value ^= (value << 15) & 0xEFC60000
    result = value
    for _ in range(5):
        result = value ^ ((result << 7) & 0x9D2C5680)
    value = result & 0xFFFFFFFF
    result = value
    for _ in range(3):
        result = value ^ (result >> 11)
    return result & 0xFFFFFFFF


def _predictor(ids: list[str]) -> random.Random:
    """A generator in the state that 312 consecutive 64-bit ids leave a Mersenne Twister in
    (``getrandbits(64)`` takes two outputs, the low word first)."""
    words: list[int] = []
    for request_id in ids:
        value = int(request_id, 16)
        words += [_untemper(value & 0xFFFFFFFF), _untemper(value >> 32)]
    predictor = random.Random()
    predictor.setstate((3, (*words, 624), None))
    return predictor


def test_the_attack_works_on_a_mersenne_twister() -> None:
    """The test's own check: the prediction does find a Twister's next ids."""
    source = random.Random(os.urandom(8))
    seen = [f"{source.getrandbits(64):016X}" for _ in range(312)]
    predictor = _predictor(seen)
    assert [predictor.getrandbits(64) for _ in range(3)] == [source.getrandbits(64) for _ in "abc"]


def test_request_ids_cannot_be_predicted_from_earlier_ones() -> None:
    seen = [new_request_id() for _ in range(312)]
    assert all(re.fullmatch("[0-9A-F]{16}", request_id) for request_id in seen)
    predictor = _predictor(seen)
    predicted = [f"{predictor.getrandbits(64):016X}" for _ in range(8)]
    assert predicted != [new_request_id() for _ in range(8)]
    assert len(set(seen)) == 312
