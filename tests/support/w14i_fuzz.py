"""The wave 14 I model-based fuzz, whole: :class:`tests.support.w14i_listings.Listings` (buckets,
objects, listings) and the multipart rules — create, parts (uploaded and copied, from any
bucket a party may read), complete with parts left out or made up, abort, ListParts and
ListMultipartUploads — by every party, with UploadIds of other tenants' uploads and of uploads
already over."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.support.w14i_listings import Listings
from tests.support.w14i_machine import (
    BODIES,
    OBJECT_ACLS,
    _texts,
    _xml,
    keys,
    names,
    parties,
)
from tests.support.w14i_model import (
    DENIED,
    LIST,
    MIN_PART,
    READ,
    WRITE,
    Obj,
    Outcome,
    Reach,
    Refused,
    Upload,
    access,
    multipart_etag,
)
from tests.support.w14i_transport import Answer

BIG = b"B" * MIN_PART
PART_BODIES = (*BODIES, BIG)


class Fuzz(Listings):
    """Subclasses set :meth:`make_transport`."""

    @rule(party=parties, name=names, key=keys, acl=st.sampled_from(OBJECT_ACLS))
    def create_upload(self, party: str, name: str, key: str, acl: str | None) -> None:
        headers = {"x-amz-acl": acl} if acl else {}
        answer = self.send(party, "POST", name, key, query=[("uploads", "")], headers=headers)
        outcomes = access(self.model, party, name, WRITE, key)
        if party == "anon":
            # An ACL needs s3:PutObjectAcl, which no ACL grants everyone: 403 before the 501.
            self.anonymous_upload(answer, [DENIED] if acl else outcomes)
            return

        def created(reach: Reach) -> bool:
            if answer.status != 200:
                return False
            upload_id = _xml(answer.body).findtext("{*}UploadId")
            assert upload_id and upload_id not in self.model.uploads, answer
            b = reach.bucket
            self.model.uploads[upload_id] = Upload(b.tenant, b.name, key, upload_id, acl or "")
            return True

        self.check_reach(answer, outcomes, "POST", created)

    def anonymous_upload(self, answer: Answer, outcomes: list[Outcome]) -> None:
        if any(isinstance(o, Reach) for o in outcomes):
            assert answer.status == 501, answer
        else:
            self.expect_refusal(answer, outcomes, "POST")

    def pick(self, index: int) -> Upload | None:
        known = list(self.model.uploads.values()) + self.gone[-3:]
        return known[index % len(known)] if known else None

    def upload_access(self, party: str, upload: Upload, kind: str = WRITE) -> list[Outcome]:
        outcomes = access(self.model, party, upload.name, kind, upload.key)
        reach = outcomes[0]
        if isinstance(reach, Reach) and reach.own:
            live = self.model.uploads.get(upload.upload_id)
            if live is None or (live.tenant, live.name) != (reach.bucket.tenant, reach.bucket.name):
                return [Refused(404, "NoSuchUpload")]
        return outcomes

    @rule(party=parties, index=st.integers(0, 20), number=st.integers(1, 3),
          which=st.integers(0, len(PART_BODIES) - 1))  # fmt: skip
    def upload_part(self, party: str, index: int, number: int, which: int) -> None:
        body = PART_BODIES[which]
        upload = self.pick(index)
        if upload is None:
            return
        query = [("partNumber", str(number)), ("uploadId", upload.upload_id)]
        answer = self.send(party, "PUT", upload.name, upload.key, query=query, body=body)
        outcomes = self.upload_access(party, upload)
        if party == "anon":
            self.anonymous_upload(answer, outcomes)
            return

        def stored(reach: Reach) -> bool:
            if not reach.own or answer.status != 200:
                return False
            etag = answer.headers.get("etag", "")
            assert etag == Obj(body).etag, answer
            self.model.uploads[upload.upload_id].parts[number] = (body, etag)
            return True

        self.check_reach(answer, outcomes, "PUT", stored)

    @rule(party=parties, index=st.integers(0, 20), number=st.integers(1, 3), src_name=names,
          src_key=keys)  # fmt: skip
    def upload_part_copy(self, party: str, index: int, number: int, src_name: str,
                         src_key: str) -> None:  # fmt: skip
        upload = self.pick(index)
        if upload is None:
            return
        query = [("partNumber", str(number)), ("uploadId", upload.upload_id)]
        headers = {"x-amz-copy-source": quote(f"/{src_name}/{src_key}", safe="/~")}
        answer = self.send(party, "PUT", upload.name, upload.key, query=query, headers=headers)
        if party == "anon":
            assert answer.status in (403, 501), answer
            return
        destination = self.upload_access(party, upload)
        source = access(self.model, party, src_name, READ, src_key)
        allowed = [o for o in destination + source if isinstance(o, Refused)]
        dst, src = destination[0], source[0]
        if isinstance(src, Reach) and src.bucket.objects.get(src_key) is None:
            allowed.append(Refused(404, "NoSuchKey"))
        if answer.status == 200:
            assert isinstance(dst, Reach) and dst.own, (destination, source, answer)
            assert isinstance(src, Reach), (destination, source, answer)
            body = src.bucket.objects[src_key].body
            etag = _texts(_xml(answer.body), "{*}ETag")
            assert etag == [Obj(body).etag], answer
            self.model.uploads[upload.upload_id].parts[number] = (body, etag[0])
            return
        assert allowed, (destination, source, answer)
        assert any(self.refused(answer, r, "PUT") for r in allowed), (allowed, answer)

    @rule(party=parties, index=st.integers(0, 20), mask=st.integers(0, 7), bogus=st.booleans())
    def complete_upload(self, party: str, index: int, mask: int, bogus: bool) -> None:
        upload = self.pick(index)
        if upload is None:
            return
        numbers = [n for n in sorted(upload.parts) if mask & (1 << (n - 1))]
        listed_parts = [(n, upload.parts[n][1]) for n in numbers]
        if bogus:
            listed_parts.append((7, '"00000000000000000000000000000000"'))
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in listed_parts
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        query = [("uploadId", upload.upload_id)]
        answer = self.send(party, "POST", upload.name, upload.key, query=query, body=body)
        outcomes = self.upload_access(party, upload)
        if not listed_parts and outcomes == [Refused(404, "NoSuchUpload")]:
            # A body S3 refuses, for an upload over: which of the two comes first is moot. A
            # bucket's refusal comes first (wave 15 B: MalformedXML was accepted there too).
            outcomes = [*outcomes, Refused(400, "MalformedXML")]
        if party == "anon":
            self.anonymous_upload(answer, outcomes)
            return

        def completed(reach: Reach) -> bool:
            if not reach.own:
                return False
            if not listed_parts:
                return self.refused(answer, Refused(400, "MalformedXML"), "POST")
            if bogus:
                return self.refused(answer, Refused(400, "InvalidPart"), "POST")
            small = any(len(upload.parts[n][0]) < MIN_PART for n in numbers[:-1])
            if small:
                return self.refused(answer, Refused(400, "EntityTooSmall"), "POST")
            if answer.status != 200:
                return False
            etag = multipart_etag([upload.parts[n][1] for n in numbers])
            assert _texts(_xml(answer.body), "{*}ETag") == [etag], answer
            data = b"".join(upload.parts[n][0] for n in numbers)
            self.store(reach.bucket, upload.key, data, upload.acl or None)
            reach.bucket.objects[upload.key].completed_etag = etag
            self.gone.append(self.model.uploads.pop(upload.upload_id))
            return True

        self.check_reach(answer, outcomes, "POST", completed)

    @rule(party=parties, index=st.integers(0, 20))
    def abort_upload(self, party: str, index: int) -> None:
        upload = self.pick(index)
        if upload is None:
            return
        answer = self.send(party, "DELETE", upload.name, upload.key,
                           query=[("uploadId", upload.upload_id)])  # fmt: skip
        outcomes = self.upload_access(party, upload)
        if party == "anon":
            outcomes = [o if isinstance(o, Refused) else DENIED for o in outcomes]

        def aborted(reach: Reach) -> bool:
            if not reach.own or answer.status != 204:
                return False
            self.gone.append(self.model.uploads.pop(upload.upload_id))
            return True

        self.check_reach(answer, outcomes, "DELETE", aborted)

    @rule(party=parties, index=st.integers(0, 20))
    def list_parts(self, party: str, index: int) -> None:
        upload = self.pick(index)
        if upload is None:
            return
        answer = self.send(party, "GET", upload.name, upload.key,
                           query=[("uploadId", upload.upload_id)])  # fmt: skip
        outcomes = self.upload_access(party, upload)
        if party == "anon":
            outcomes = [o if isinstance(o, Refused) else DENIED for o in outcomes]

        def parts(reach: Reach) -> bool:
            if not reach.own or answer.status != 200:
                return False
            root = _xml(answer.body)
            numbers = _texts(root, "{*}Part/{*}PartNumber")
            got = list(zip(numbers, _texts(root, "{*}Part/{*}ETag"), strict=True))
            live = self.model.uploads[upload.upload_id].parts
            assert got == [(str(n), live[n][1]) for n in sorted(live)], answer
            return True

        self.check_reach(answer, outcomes, "GET", parts)

    @rule(party=parties, name=names, page=st.sampled_from((1, 2, 1000)))
    def list_uploads(self, party: str, name: str, page: int = 1000) -> None:
        """ListMultipartUploads paged to the end with its key and UploadId markers (wave 16 B:
        another tenant's second page of a granted listing was 400, and no rule paged)."""
        query = [("uploads", ""), ("max-uploads", str(page))]
        query += [("prefix", "p/")] if party == "as" else []
        outcomes = access(self.model, party, name, LIST, "p/" if party == "as" else None)
        got: list[tuple[str, str]] = []
        markers: list[tuple[str, str]] = []
        for _ in range(40):
            answer = self.send(party, "GET", name, query=query + markers)
            if answer.status != 200:
                assert not markers, answer  # a later page refused: the marker was not taken
                break
            root = _xml(answer.body)
            keys_ids = zip(
                _texts(root, "{*}Upload/{*}Key"), _texts(root, "{*}Upload/{*}UploadId"), strict=True
            )
            got += keys_ids
            if root.findtext("{*}IsTruncated") != "true":
                break
            next_key = root.findtext("{*}NextKeyMarker") or ""
            next_id = root.findtext("{*}NextUploadIdMarker") or ""
            markers = [("key-marker", next_key), ("upload-id-marker", next_id)]
        else:
            raise AssertionError("the uploads listing never ended")

        def uploads(reach: Reach) -> bool:
            if answer.status != 200:
                return False
            wanted = sorted(
                (u.key, u.upload_id)
                for u in self.model.uploads_of(reach.bucket)
                if party != "as" or u.key.startswith("p/")
            )
            assert sorted(got) == wanted, (got, wanted)
            return True

        self.check_reach(answer, outcomes, "GET", uploads)
