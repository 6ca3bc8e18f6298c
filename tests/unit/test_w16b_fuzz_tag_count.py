"""The model-based fuzz checks ``x-amz-tagging-count`` (wave 16 B): a GET or HEAD answered to
the object's owner counts its tags (none when it has none), and one answered to another tenant
through a grant, or to an anonymous caller, carries no count (S3 answers it only to a caller
allowed s3:GetObjectTagging, which no ACL grants). A transport that adds the count where it
must not be, or drops it where it must be, fails the machine's own ``get_object`` step."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.w14i_transport import Answer, InProcess, Transport
from tests.support.w15i_rules import MoreRules

Tamper = Callable[[str, str | None, Answer], None]


class Tampering:
    """The in-process transport, each answer passed through ``tamper`` (party, key, answer)."""

    def __init__(self, inner: InProcess, tamper: Tamper | None) -> None:
        self.inner, self.tamper = inner, tamper

    def send(self, party: str, method: str, name: str | None, key: str | None = None,
             query: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None,
             body: bytes = b"") -> Answer:  # fmt: skip
        answer = self.inner.send(party, method, name, key, query, headers, body)
        if self.tamper is not None and method in ("GET", "HEAD") and not query:
            self.tamper(party, key, answer)
        return answer

    def close(self) -> None:
        self.inner.close()


def machine(tamper: Tamper | None) -> MoreRules:
    class Local(MoreRules):
        def make_transport(self) -> Transport:
            self.root = Path(tempfile.mkdtemp(prefix="w16b-"))
            return Tampering(InProcess(self.root), tamper)

        def teardown(self) -> None:
            super().teardown()
            shutil.rmtree(self.root, ignore_errors=True)

    return Local()


def reads(state: MoreRules) -> None:
    """a's public-read bucket holds a tagged and an untagged object; every party reads both."""
    state.create_bucket(party="a", name="nm1", acl="public-read")
    state.put_object(party="a", name="nm1", key="k", body=b"hello", acl=None)
    state.object_tagging(party="a", name="nm1", key="k", tags={"t": "2", "u": "v w"}, index=None)
    state.put_object(party="a", name="nm1", key="p/x", body=b"0", acl=None)
    for party in ("a", "as", "b", "anon"):
        for key in ("k", "p/x"):
            for head in (False, True):
                state.get_object(party=party, name="nm1", key=key, head=head)


def run(tamper: Tamper | None) -> None:
    state = machine(tamper)
    try:
        reads(state)
    finally:
        state.teardown()


def test_the_gateway_counts_tags_only_for_their_owner() -> None:
    run(None)


def counted_for_others(party: str, key: str | None, answer: Answer) -> None:
    if party in ("b", "anon") and answer.status == 200:
        answer.headers["x-amz-tagging-count"] = "2" if key == "k" else "1"


def dropped_for_the_owner(party: str, key: str | None, answer: Answer) -> None:
    answer.headers.pop("x-amz-tagging-count", None)


def counted_untagged(party: str, key: str | None, answer: Answer) -> None:
    if key == "p/x" and answer.status == 200:
        answer.headers["x-amz-tagging-count"] = "0"


@pytest.mark.parametrize("tamper", [counted_for_others, dropped_for_the_owner, counted_untagged])
def test_a_wrong_count_fails_the_machine(tamper: Tamper) -> None:
    with pytest.raises(AssertionError, match="x-amz-tagging-count"):
        run(tamper)
