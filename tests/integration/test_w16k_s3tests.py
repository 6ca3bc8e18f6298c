"""Wave 16 K: ceph/s3-tests functions the censuses (conformance/s3tests_census_*.md) still listed
as answered differently from AWS, in our own words.

Each check names, in its docstring, the s3-tests functions it covers and the AWS documentation
that decides the answer where s3-tests expects something else.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Proxy
from tests.support.s3tests import MakeBucket, bucket_factory, failure

pytestmark = pytest.mark.integration


@pytest.fixture()
def make_bucket(proxy: Proxy) -> Iterator[MakeBucket]:
    yield from bucket_factory(proxy)


@pytest.mark.one_lane  # decided from the request alone, before anything is stored
def test_an_email_grantee_is_405_as_aws_answers_it_since_2025(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_bucket_acl_grant_email, test_bucket_acl_grant_email_not_exist: s3-tests expects the
    grant stored, or 400 UnresolvableGrantByEmailAddress for an unknown address. AWS ended
    e-mail grantee ACLs on 2025-10-01: "a request that uses an Email Grantee ACL receives an HTTP
    405 (Method Not Allowed) error" (PutBucketAcl, PutObjectAcl API reference), in the regions
    that took them, and no other region ever did. The gateway answered 501 NotImplemented; now
    S3's 405 MethodNotAllowed, whether the grantee comes in a header or a policy document, and
    nothing is stored or changed."""
    s3, bucket = proxy.client("alice"), make_bucket()
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    me = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    mail = {
        "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "someone@example.com"},
        "Permission": "READ",
    }
    calls = [
        lambda: s3.put_bucket_acl(
            Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [me, mail]}
        ),
        lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead='emailAddress="someone@example.com"'),
        lambda: s3.put_object(
            Bucket=bucket, Key="mailed", Body=b"x", GrantRead="emailaddress=someone@example.com"
        ),
    ]
    for call in calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert failure(refused) == (405, "MethodNotAllowed")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    kept = [(grant["Grantee"]["ID"], grant["Permission"]) for grant in grants]
    assert kept == [(owner["ID"], "FULL_CONTROL")]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.one_lane  # decided from the request alone, before anything is stored
def test_a_grantee_that_names_no_one_is_400_invalid_argument(
    proxy: Proxy, make_bucket: MakeBucket
) -> None:
    """test_bucket_acl_grant_nonexist_user: S3 answers a grant to an id no account has 400
    InvalidArgument "Invalid id" (AWS takes canonical ids only: even a 12-digit account id is
    "Invalid id" there), and a group URI that is no S3 group "Invalid group uri". Every account
    here is a tenant with a 12-digit owner id, so any other id names no one: 400 (it was 501).
    A 12-digit id other than the owner's stays 501 whether a tenant has it or not, so the
    answer tells nobody which ids exist."""
    s3, bucket = proxy.client("alice"), make_bucket()
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    me = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    nobody = {"Grantee": {"Type": "CanonicalUser", "ID": "_foo"}, "Permission": "FULL_CONTROL"}
    group = {
        "Grantee": {"Type": "Group", "URI": "http://example.com/nogroup"},
        "Permission": "READ",
    }
    canonical = "0123456789abcdef" * 4  # an AWS-style canonical user id
    cases = [
        (
            lambda: s3.put_bucket_acl(
                Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [nobody]}
            ),
            "_foo",
        ),
        (
            lambda: s3.put_bucket_acl(
                Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [me, group]}
            ),
            group["Grantee"]["URI"],
        ),
        (lambda: s3.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{canonical}"'), canonical),
        (
            lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", GrantFullControl="id=_foo"),
            "_foo",
        ),
    ]
    for call, value in cases:
        with pytest.raises(ClientError) as refused:
            call()
        assert failure(refused) == (400, "InvalidArgument")
        assert refused.value.response["Error"]["ArgumentValue"] == value
    stranger = {"Grantee": {"Type": "CanonicalUser", "ID": "1" * 12}, "Permission": "READ"}
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_acl(
            Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": [me, stranger]}
        )
    assert failure(refused) == (501, "NotImplemented")
    assert [g["Grantee"]["ID"] for g in s3.get_bucket_acl(Bucket=bucket)["Grants"]] == [owner["ID"]]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
