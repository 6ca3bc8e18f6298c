"""A browser's preflight for a bucket name two tenants have, against a real upstream (wave 18
K): the preflight of a header-signed request is answered by the bucket created first, whatever
a later one's ACL; the preflight of an anonymous request still by the public one (wave 13).

Before, bob creating a bucket of alice's name made every preflight of alice's header-signed
browser clients 403, and once bob's was public, bob's rules answered them (admitting bob's
origins, refusing alice's). The dates are the buckets' CreationDates: the marker's listed
date, kept in the settings record from its first write (alice's is set to 2020 upstream, so
the order never rests on two creations falling in different seconds)."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.conftest import HOME_BUCKET, Proxy
from tests.support.s3http import object_url, send

pytestmark = [pytest.mark.integration, pytest.mark.upstream_layout]

ALICE_ORIGIN, BOB_ORIGIN = "https://alice.test", "https://bob.test"
SIGNED = "authorization,x-amz-content-sha256,x-amz-date"


def _rules(origin: str) -> dict[str, object]:
    rule = {"AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"]}
    return {"CORSRules": [rule]}


def _preflight(proxy: Proxy, bucket: str, origin: str, requested: str | None) -> str | None:
    """The Access-Control-Allow-Origin of a PUT's preflight; None when refused (403)."""
    headers = {"Host": proxy.host, "Origin": origin, "Access-Control-Request-Method": "PUT"}
    if requested is not None:
        headers["Access-Control-Request-Headers"] = requested
    answer = send("OPTIONS", object_url(proxy.endpoint, bucket, "k"), headers)
    if answer.status == 403:
        assert answer.error_code == "AccessForbidden"
        return None
    assert answer.status == 200, answer.body
    return answer.header("Access-Control-Allow-Origin")


def test_the_first_bucket_of_a_name_answers_its_signed_clients_preflights(proxy: Proxy) -> None:
    name = "w18k-cors-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.create_bucket(Bucket=name)
    try:
        # alice's bucket made long ago: its record keeps that date from its first write on
        record = json.dumps({"created": "2020-01-01T00:00:00.000Z"}).encode()
        proxy.upstream.put_object(Bucket=HOME_BUCKET, Key=f"alice/.buckets/{name}", Body=record)
        alice.put_bucket_cors(Bucket=name, CORSConfiguration=_rules(ALICE_ORIGIN))
        assert _preflight(proxy, name, ALICE_ORIGIN, SIGNED) == ALICE_ORIGIN
        bob.create_bucket(Bucket=name)  # private, no settings: its marker's date, today
        try:
            assert _preflight(proxy, name, ALICE_ORIGIN, SIGNED) == ALICE_ORIGIN  # was 403
            bob.put_bucket_cors(Bucket=name, CORSConfiguration=_rules(BOB_ORIGIN))
            bob.put_bucket_acl(Bucket=name, ACL="public-read")
            # bob's public rules never answer alice's clients (they did, both ways)
            assert _preflight(proxy, name, ALICE_ORIGIN, SIGNED) == ALICE_ORIGIN
            assert _preflight(proxy, name, BOB_ORIGIN, SIGNED) is None
            # an anonymous request goes to the public bucket: its rules (wave 13)
            assert _preflight(proxy, name, BOB_ORIGIN, "content-type") == BOB_ORIGIN
            assert _preflight(proxy, name, ALICE_ORIGIN, "content-type") is None
            # with alice's bucket as stored: its CreationDate in ListBuckets is the one ranked
            listed = {b["Name"]: b["CreationDate"] for b in alice.list_buckets()["Buckets"]}
            assert listed[name].year == 2020
        finally:
            bob.delete_bucket(Bucket=name)
        assert _preflight(proxy, name, ALICE_ORIGIN, SIGNED) == ALICE_ORIGIN
    finally:
        alice.delete_bucket(Bucket=name)
