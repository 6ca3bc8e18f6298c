"""A bucket's CreationDate outlives its settings (wave 18, R3F of R3's review of d5b1005).

Removing a created bucket's last setting wrote an empty marker, so the bucket's date became
that write's time: ListBuckets showed it created today, and the CORS preflight rule that ranks
tenants' buckets of one name by CreationDate (the first created answers a header-signed
request's preflight) then ranked alice's bucket after bob's later one. alice replacing her CORS
rules by DeleteBucketCors + PutBucketCors was enough to hand bob her preflights."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.conftest import HOME_BUCKET, Proxy
from tests.integration.test_w18k_cors_holders import (
    ALICE_ORIGIN,
    BOB_ORIGIN,
    SIGNED,
    _preflight,
    _rules,
)

pytestmark = [pytest.mark.integration, pytest.mark.upstream_layout]


def test_removing_and_putting_cors_again_keeps_the_first_bucket_first(proxy: Proxy) -> None:
    name = "w18r3f-cors-" + os.urandom(4).hex()
    alice, bob = proxy.client("alice"), proxy.client("bob")
    alice.create_bucket(Bucket=name)
    try:
        # alice's bucket made long ago: its record keeps that date from its first write on
        record = json.dumps({"created": "2020-01-01T00:00:00.000Z"}).encode()
        proxy.upstream.put_object(Bucket=HOME_BUCKET, Key=f"alice/.buckets/{name}", Body=record)
        alice.put_bucket_cors(Bucket=name, CORSConfiguration=_rules(ALICE_ORIGIN))
        bob.create_bucket(Bucket=name)
        try:
            bob.put_bucket_cors(Bucket=name, CORSConfiguration=_rules(BOB_ORIGIN))
            bob.put_bucket_acl(Bucket=name, ACL="public-read")
            assert _preflight(proxy, name, ALICE_ORIGIN, SIGNED) == ALICE_ORIGIN
            alice.delete_bucket_cors(Bucket=name)  # her last setting: the date stays
            listed = {b["Name"]: b["CreationDate"] for b in alice.list_buckets()["Buckets"]}
            assert listed[name].year == 2020
            alice.put_bucket_cors(Bucket=name, CORSConfiguration=_rules(ALICE_ORIGIN))
            listed = {b["Name"]: b["CreationDate"] for b in alice.list_buckets()["Buckets"]}
            assert listed[name].year == 2020
            shown = (
                _preflight(proxy, name, ALICE_ORIGIN, SIGNED),
                _preflight(proxy, name, BOB_ORIGIN, SIGNED),
            )
            assert shown == (ALICE_ORIGIN, None)
        finally:
            bob.delete_bucket(Bucket=name)
    finally:
        alice.delete_bucket(Bucket=name)
