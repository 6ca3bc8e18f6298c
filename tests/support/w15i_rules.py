"""Rules wave 15 I adds to the model-based fuzz (tests/support/w14i_fuzz.py): conditional writes
(PutObject with ``If-None-Match: *`` or ``If-Match``, some with ``x-amz-tagging``), object tags
(Put/DeleteObjectTagging; GetObjectTagging is the wave 14 machine's ``get_object_extras``) and
bucket tags (Put/Get/DeleteBucketTagging), each by every party, checked against the model
(tests/support/w14i_model.py keeps an object's and a bucket's tags)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import urlencode

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.support.w14i_fuzz import Fuzz
from tests.support.w14i_machine import _xml, bodies, keys, names, parties, tag_set
from tests.support.w14i_model import ADMIN, DENIED, OBJECT_ACL, WRITE, Obj, Reach, Refused, access

TAG_SETS: tuple[dict[str, str], ...] = ({}, {"t": "1"}, {"t": "2", "u": "v w"})
CONDITIONS = ("if-none-match", "if-match", "if-match-wrong")
PRECONDITION = Refused(412, "PreconditionFailed")
NO_SUCH_KEY = Refused(404, "NoSuchKey")
tag_sets = st.sampled_from(TAG_SETS)


def tagging(tags: dict[str, str]) -> bytes:
    pairs = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags.items())
    return f"<Tagging><TagSet>{pairs}</TagSet></Tagging>".encode()


def md5_of(body: bytes) -> dict[str, str]:
    return {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}


class MoreRules(Fuzz):
    """:class:`Fuzz` with conditional writes and object and bucket tags."""

    def existing(self, name: str, key: str, index: int | None) -> tuple[str, str]:
        """An object the model holds (``index``: which), else ``name`` and ``key``."""
        held = [(b.name, k) for b in self.model.buckets.values() for k in sorted(b.objects)]
        return held[index % len(held)] if held and index is not None else (name, key)

    @rule(party=parties, name=names, key=keys, body=bodies, condition=st.sampled_from(CONDITIONS),
          tags=tag_sets, index=st.one_of(st.none(), st.integers(0, 20)))  # fmt: skip
    def conditional_put(self, party: str, name: str, key: str, body: bytes, condition: str,
                        tags: dict[str, str], index: int | None) -> None:  # fmt: skip
        name, key = self.existing(name, key, index)
        outcomes = access(self.model, party, name, WRITE, key)
        reach = outcomes[0]
        current = reach.bucket.objects.get(key) if isinstance(reach, Reach) else None
        if condition == "if-none-match":
            headers = {"if-none-match": "*"}
        elif condition == "if-match" and current is not None:
            headers = {"if-match": current.etag}
        else:
            headers = {"if-match": '"' + hashlib.md5(b"no such body").hexdigest() + '"'}
        if tags:
            headers["x-amz-tagging"] = urlencode(tags)
        answer = self.send(party, "PUT", name, key, headers=headers, body=body)

        def written(reach: Reach) -> bool:
            if party == "anon" and tags:  # s3:PutObjectTagging is granted to no one
                return self.refused(answer, DENIED, "PUT")
            if current is not None and condition != "if-match":
                return self.refused(answer, PRECONDITION, "PUT")
            if current is None and condition != "if-none-match":
                return self.refused(answer, NO_SUCH_KEY, "PUT")
            if answer.status != 200:
                return False
            assert answer.headers.get("etag") == Obj(body).etag, answer
            self.store(reach.bucket, key, body, None, tags)
            return True

        self.check_reach(answer, outcomes, "PUT", written)

    @rule(party=parties, name=names, key=keys, tags=st.one_of(st.none(), tag_sets),
          index=st.one_of(st.none(), st.integers(0, 20)))  # fmt: skip
    def object_tagging(self, party: str, name: str, key: str, tags: dict[str, str] | None,
                       index: int | None) -> None:  # fmt: skip
        """PutObjectTagging (``tags``) or DeleteObjectTagging (None): the owner's alone."""
        name, key = self.existing(name, key, index)
        if tags is None:
            answer = self.send(party, "DELETE", name, key, query=[("tagging", "")])
        else:
            body = tagging(tags)
            answer = self.send(party, "PUT", name, key, query=[("tagging", "")],
                               headers=md5_of(body), body=body)  # fmt: skip
        outcomes = access(self.model, party, name, OBJECT_ACL, key) if party != "anon" else [DENIED]
        method = "DELETE" if tags is None else "PUT"

        def tagged(reach: Reach) -> bool:
            if not reach.own:
                return False
            obj = reach.bucket.objects.get(key)
            if obj is None:
                return self.refused(answer, NO_SUCH_KEY, method)
            if answer.status != (204 if tags is None else 200):
                return False
            obj.tags = dict(tags or {})
            return True

        self.check_reach(answer, outcomes, method, tagged)

    @rule(party=parties, name=names, op=st.sampled_from(("put", "get", "delete")),
          tags=st.sampled_from(TAG_SETS[1:]))  # fmt: skip
    def bucket_tagging(self, party: str, name: str, op: str, tags: dict[str, str]) -> None:
        method = {"put": "PUT", "get": "GET", "delete": "DELETE"}[op]
        body = tagging(tags) if op == "put" else b""
        headers = md5_of(body) if op == "put" else {}
        answer = self.send(party, method, name, query=[("tagging", "")], headers=headers,
                           body=body)  # fmt: skip
        outcomes = access(self.model, party, name, ADMIN) if party != "anon" else [DENIED]

        def done(reach: Reach) -> bool:
            if not reach.own:
                return False
            bucket = reach.bucket
            if op == "get":
                if bucket.tags is None:
                    return self.refused(answer, Refused(404, "NoSuchTagSet"), method)
                assert answer.status == 200 and tag_set(_xml(answer.body)) == bucket.tags, (
                    bucket.tags,
                    answer,
                )
                return True
            if answer.status != 204:
                return False
            bucket.tags = dict(tags) if op == "put" else None
            return True

        self.check_reach(answer, outcomes, method, done)
