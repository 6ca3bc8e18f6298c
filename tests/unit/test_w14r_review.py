"""Wave 14 review (R): what an anonymous DeleteObjects (carried out since wave 14 C) may never
reach, in process on the local store.

A ``public-read-write`` bucket's WRITE grant lets everyone delete there, and nowhere else: not in
a private bucket one of whose objects is ``public-read`` (its own ACL grants a read, never a
delete), and not in another tenant's bucket of the same name (the name resolves to the bucket
that grants, :mod:`s3proxy.name_claims`; a private one claims nothing)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_w13c2_foreign_deletes import Calls, _run
from tests.unit.test_w14c_anonymous_deletes import _anonymous_delete, _delete


def test_an_anonymous_delete_objects_reaches_only_the_bucket_that_grants_it(
    tmp_path: Path,
) -> None:
    async def scenario(calls: Calls) -> None:
        app, plain = calls.app, _delete("<Object><Key>k</Key></Object>")
        assert (await calls.signed("bob", "PUT")).status == 200  # private, the name's first
        public = {"x-amz-acl": "public-read"}
        assert (await calls.signed("bob", "PUT", "/k", b"bob's", **public)).status == 200
        # A private bucket whose object alone is public: the whole request is refused.
        status, body = await _anonymous_delete(app, plain)
        assert (status, b"<Code>AccessDenied</Code>" in body) == (403, True), body
        assert (await calls.signed("bob", "GET", "/k")).body == b"bob's"
        # ann's bucket of the same name, public-read-write: only hers is reached.
        rw = {"x-amz-acl": "public-read-write"}
        assert (await calls.signed("ann", "PUT", "", **rw)).status == 200
        assert (await calls.signed("ann", "PUT", "/k", b"ann's")).status == 200
        status, body = await _anonymous_delete(app, plain)
        assert (status, body.count(b"<Deleted><Key>k</Key>")) == (200, 1), body
        assert (await calls.signed("ann", "GET", "/k")).status == 404
        assert (await calls.signed("bob", "GET", "/k")).body == b"bob's"

    _run(tmp_path, scenario)
