"""The wave 14 I fuzz's listing rules (moved out of tests/support/w14i_machine.py, which holds
the bucket and object rules and the checks every rule uses): ListObjects V1 and V2 paged to the
end with every prefix, delimiter, page size, encoding and start, ListObjectVersions, and the
invariant that every party's listing of every name equals the model's sorted keys."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from tests.support.w14i_machine import Requests, _texts, _xml, names, parties
from tests.support.w14i_model import LIST, NAMES, PARTIES, Reach, access, listed


class Listings(Requests):
    """:class:`Requests` with the listing rules; :class:`tests.support.w14i_fuzz.Fuzz` adds
    the multipart rules."""

    @rule(party=parties, name=names, v2=st.booleans(),
          prefix=st.sampled_from(("", "p/", "p", "d", "x", "q/", ".")),
          delimiter=st.sampled_from((None, "/", "e")), page=st.sampled_from((1, 2, 1000)),
          encoded=st.booleans(), after=st.sampled_from((None, "d", "p/x", "p/y/z")))  # fmt: skip
    def list_objects(self, party: str, name: str, v2: bool, prefix: str, delimiter: str | None,
                     page: int, encoded: bool, after: str | None) -> None:  # fmt: skip
        self.check_listing(party, name, v2, prefix, delimiter, page, encoded, after)

    def check_listing(self, party: str, name: str, v2: bool, prefix: str,
                      delimiter: str | None, page: int, encoded: bool,
                      after: str | None = None) -> None:  # fmt: skip
        outcomes = access(self.model, party, name, LIST, prefix)
        base: list[tuple[str, str]] = [("list-type", "2")] if v2 else []
        base += [("prefix", prefix)] if prefix else []
        if after is not None and v2:
            base.append(("start-after", after))
        base += [("delimiter", delimiter)] if delimiter else []
        base += [("max-keys", str(page))] + ([("encoding-type", "url")] if encoded else [])
        got_keys: list[str] = []
        got_prefixes: list[str] = []
        marker: str | None = None
        for _ in range(40):
            query = list(base)
            if marker is None and after is not None and not v2:
                query.append(("marker", after))
            if marker is not None:
                query.append(("continuation-token" if v2 else "marker", marker))
            answer = self.send(party, "GET", name, query=query)
            if answer.status != 200:
                assert marker is None, answer
                self.expect_refusal(answer, outcomes, "GET")
                return
            root = _xml(answer.body)
            decode: Callable[[str], str] = unquote if encoded else (lambda s: s)
            page_keys = [decode(k) for k in _texts(root, "{*}Contents/{*}Key")]
            got_keys += page_keys
            got_prefixes += [decode(p) for p in _texts(root, "{*}CommonPrefixes/{*}Prefix")]
            if root.findtext("{*}IsTruncated") != "true":
                break
            if v2:
                marker = root.findtext("{*}NextContinuationToken")
            else:
                marker = root.findtext("{*}NextMarker")
                marker = decode(marker) if marker else (page_keys or [""])[-1]
            assert marker, answer
        else:
            raise AssertionError("listing never ended")
        reaches = [o for o in outcomes if isinstance(o, Reach)]
        assert reaches, (outcomes, got_keys)
        wanted = [
            listed([k for k in r.bucket.objects if after is None or k.encode() > after.encode()],
                   prefix, delimiter)
            for r in reaches
        ]  # fmt: skip
        assert (got_keys, got_prefixes) in wanted, (party, name, wanted, got_keys, got_prefixes)

    @invariant()
    def every_listing_is_the_models(self) -> None:
        for party in PARTIES:
            for name in NAMES:
                self.check_listing(party, name, True, "p/" if party == "as" else "", None,
                                   1000, False)  # fmt: skip

    @rule(party=parties, name=names)
    def list_versions(self, party: str, name: str) -> None:
        prefix = "p/" if party == "as" else ""
        query = [("versions", "")] + ([("prefix", prefix)] if prefix else [])
        answer = self.send(party, "GET", name, query=query)
        outcomes = access(self.model, party, name, LIST, prefix)

        def versions(reach: Reach) -> bool:
            if answer.status != 200:
                return False
            root = _xml(answer.body)
            got = _texts(root, "{*}Version/{*}Key")
            wanted = listed(list(reach.bucket.objects), prefix, None)[0]
            assert got == wanted, (got, wanted)
            assert set(_texts(root, "{*}Version/{*}VersionId")) <= {"null"}, answer
            return True

        self.check_reach(answer, outcomes, "GET", versions)
