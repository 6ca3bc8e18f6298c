"""Model-based isolation and consistency fuzz, in process over a local store (wave 14, I).

A Hypothesis state machine (tests/support/w14i_machine.py, w14i_fuzz.py) sends S3 requests as
two tenants, a scoped key and anonymous callers over buckets of shared names, and checks every
answer and every listing against a model of what S3, with README's grants, stores and allows
(tests/support/w14i_model.py). The CI run is derandomized and small; ``W14I_EXAMPLES=2000``
runs it long (with ``--timeout 0``); each finding is replayed below and tested directly in
test_w14i_findings.py."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.support.w14i_fuzz import Fuzz
from tests.support.w14i_transport import InProcess, Transport

EXAMPLES = int(os.environ.get("W14I_EXAMPLES", "0"))


class LocalFuzz(Fuzz):
    def make_transport(self) -> Transport:
        self.root = Path(tempfile.mkdtemp(prefix="w14i-"))
        return InProcess(self.root)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.root, ignore_errors=True)


TestLocalFuzz = LocalFuzz.TestCase
TestLocalFuzz.settings = settings(
    max_examples=EXAMPLES or 20,
    stateful_step_count=40 if EXAMPLES else 25,
    derandomize=not EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    print_blob=True,
)


def test_replayed_another_tenants_upload_calls() -> None:
    """The sequence the long run shrank finding 1 to (test_w14i_findings.py tests it directly):
    b's ListParts and Abort of a's UploadId in a's public-read bucket, which b may only read."""
    state = LocalFuzz()
    try:
        state.create_bucket(party="a", name="nm1", acl="public-read")
        state.create_upload(party="a", name="nm1", key="k", acl=None)
        state.list_parts(party="b", index=0)
        state.abort_upload(party="b", index=0)
        state.upload_part(party="b", index=0, number=1, which=1)
        state.list_uploads(party="b", name="nm1")
        state.every_listing_is_the_models()
    finally:
        state.teardown()


def test_replayed_scoped_copy_from_outside_its_grants() -> None:
    """Finding 2 as the long run shrank it (test_w14i_findings.py tests it directly): a's
    scoped key copies, with an ACL, a source outside its grants into nm1, which only b has."""
    state = LocalFuzz()
    try:
        state.create_bucket(party="b", name="nm1", acl="authenticated-read")
        state.create_bucket(party="a", name="nm2", acl=None)
        state.put_object(party="a", name="nm2", key="p/", body=b"hello", acl=None)
        state.copy_object(party="as", src_name="nm2", src_key="p/", name="nm1", key="p/x",
                          acl="private")  # fmt: skip
        state.every_listing_is_the_models()
    finally:
        state.teardown()
