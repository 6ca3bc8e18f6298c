"""What one unsigned CORS preflight costs the worker (wave 11 H: cost amplification).

Anyone may send a preflight, and its Access-Control-Request-Headers may name thousands of
headers within the 16 KiB head. Matched as every name against every AllowedHeader pattern, each
pattern lower-cased again for each name, one OPTIONS against a 64 KB configuration cost ~1.7 s of
CPU. These tests count the checks a preflight makes (never time it): one per distinct name, and
the rule's patterns are prepared once, not per name.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3proxy import cors
from s3proxy.cors import CorsRule, parse_cors_configuration, preflight_rule, requested_headers


def one_rule(*headers: str) -> tuple[CorsRule, ...]:
    allowed = "".join(f"<AllowedHeader>{h}</AllowedHeader>" for h in headers)
    return parse_cors_configuration(
        b"<CORSConfiguration><CORSRule><AllowedMethod>PUT</AllowedMethod>"
        b"<AllowedOrigin>*</AllowedOrigin>" + allowed.encode() + b"</CORSRule></CORSConfiguration>"
    )


def test_a_name_repeated_thousands_of_times_is_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    allows = CorsRule.allows_header

    def counted(rule: CorsRule, header: str) -> bool:
        checks.append(header)
        return allows(rule, header)

    monkeypatch.setattr(CorsRule, "allows_header", counted)
    rules = one_rule(*(f"x-h{n}" for n in range(50)), "x-amz-*")
    names = requested_headers(",".join(["x-amz-date"] * 8000 + ["X-H7"] * 100))
    rule = preflight_rule(rules, "https://a.example", "PUT", names)
    assert rule is rules[0]
    assert sorted(checks) == ["x-amz-date", "x-h7"]


def test_a_rules_patterns_are_not_walked_again_for_each_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 exact and 300 wildcard patterns, and 500 distinct names that match only the last
    ones: the naive match made 650,000 pattern comparisons (each lower-casing its pattern); now a
    name is a few set lookups, and the only comparisons left are the rule's one AllowedOrigin's."""
    compared: list[str] = []
    wildcard_match = cors._wildcard_match

    def counted(pattern: str, value: str) -> bool:
        compared.append(pattern)
        return wildcard_match(pattern, value)

    monkeypatch.setattr(cors, "_wildcard_match", counted)
    names = [f"x-n{n}" for n in range(250)] + [f"x-w{n}-end" for n in range(250)]
    others = [f"x-other{n}" for n in range(1000)] + [f"x-q{n}*-end" for n in range(300)]
    rules = one_rule(*others, *(name.upper() for name in names[:250]), "X-W*-END")
    assert preflight_rule(rules, "https://a.example", "PUT", names) is rules[0]
    assert len(compared) <= len(rules)  # one AllowedOrigin per rule
    assert preflight_rule(rules, "https://a.example", "PUT", [*names, "x-w-nd"]) is None


def _naive(patterns: list[str], name: str) -> bool:
    """S3's rule as the user guide words it: some pattern, case-insensitive, ``*`` any run."""
    for pattern in patterns:
        head, star, tail = pattern.lower().partition("*")
        if not star and head == name:
            return True
        fits = len(name) >= len(head) + len(tail)
        if star and fits and name.startswith(head) and name.endswith(tail):
            return True
    return False


_PATTERN = st.text(alphabet="abAB-", max_size=4).flatmap(
    lambda text: st.sampled_from([text, f"{text}*", f"*{text}", f"{text[:1]}*{text[1:]}"])
)


@given(st.lists(_PATTERN, max_size=6), st.text(alphabet="ab-", max_size=5))
def test_the_prepared_patterns_allow_exactly_what_the_naive_match_allows(
    patterns: list[str], name: str
) -> None:
    rule = CorsRule(("PUT",), ("*",), allowed_headers=tuple(patterns))
    assert rule.allows_header(name) is _naive(patterns, name)
