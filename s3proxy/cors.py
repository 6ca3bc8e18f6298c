"""CORS as S3 does it: the bucket's CORSConfiguration, and how a request is matched against it.

https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/RESTOPTIONSobject.html and the user guide's
"How Amazon S3 evaluates the CORS configuration": the first rule whose AllowedOrigin, AllowedMethod
and (for a preflight) every requested header match is the one applied. An origin or header
pattern may hold one ``*`` wildcard; origins compare case-sensitively, headers case-insensitively.
Pure: no I/O, so the preflight and the response headers cost nothing but this module.

A preflight is unsigned, so anyone may send one, and its Access-Control-Request-Headers may name
thousands of headers within the 16 KiB head. Matched naively (every name against every pattern,
each pattern lower-cased again) one OPTIONS cost the worker ~1.7 s of CPU against a 64 KB
configuration (wave 11 H). So a rule's AllowedHeader patterns are sorted once, when the rule is
built, into "any", an exact set and the wildcards (:class:`HeaderPatterns`), and a preflight checks
each distinct name once: its cost follows the distinct names, not names times patterns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from s3proxy.digits import decimal
from s3proxy.errors import S3Error, S3ErrorCode
from s3proxy.xmlcodec import _parse as parse_xml  # the one defusedxml entry point
from s3proxy.xmlcodec import children_named, document, local_name

MAX_RULES = 100
MAX_ID = 255
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_RULE_ELEMENTS = frozenset(
    {"ID", "AllowedMethod", "AllowedOrigin", "AllowedHeader", "ExposeHeader", "MaxAgeSeconds"}
)


def _wildcard_match(pattern: str, value: str) -> bool:
    """``pattern`` with at most one ``*`` (checked when the rule was stored) against ``value``."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


@dataclass(frozen=True, slots=True, eq=False)
class HeaderPatterns:
    """A rule's AllowedHeader patterns, lower-cased and sorted once: a name is allowed by ``*``,
    by a set lookup, or by a wildcard pattern ``head*tail``. Wildcards are grouped by head, and
    a head's tails by length, so a name is matched by slicing it at the lengths present (one
    dict or set lookup each), never by walking every pattern: 1,700 wildcards against 3,000
    names cost 0.96 s walked, 1.3 ms grouped (the worst grouping found, 530 wildcards whose heads
    and tails all fit 320 names, 17 ms)."""

    anything: bool
    exact: frozenset[str]
    head_lengths: tuple[int, ...]
    """The distinct lengths of the wildcards' heads, ascending."""
    tails: Mapping[str, tuple[frozenset[str], tuple[int, ...]]]
    """head → its wildcards' tails and their distinct lengths, ascending."""

    @classmethod
    def of(cls, patterns: Iterable[str]) -> HeaderPatterns:
        lowered = [pattern.lower() for pattern in patterns]
        groups: dict[str, set[str]] = {}
        for pattern in lowered:
            head, star, tail = pattern.partition("*")
            if star:
                groups.setdefault(head, set()).add(tail)
        return cls(
            anything="*" in lowered,
            exact=frozenset(pattern for pattern in lowered if "*" not in pattern),
            head_lengths=tuple(sorted({len(head) for head in groups})),
            tails={
                head: (frozenset(ends), tuple(sorted({len(end) for end in ends})))
                for head, ends in groups.items()
            },
        )

    def allows(self, name: str) -> bool:
        """Whether the lower-case header ``name`` matches a pattern."""
        if self.anything or name in self.exact:
            return True
        size = len(name)
        for length in self.head_lengths:
            if length > size:
                break
            group = self.tails.get(name[:length])
            if group is None:
                continue
            ends, end_lengths = group
            for end_length in end_lengths:
                if length + end_length > size:
                    break
                if name[size - end_length :] in ends:
                    return True
        return False


@dataclass(frozen=True, slots=True)
class CorsRule:
    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None
    header_patterns: HeaderPatterns = field(init=False, repr=False, compare=False)
    """``allowed_headers`` sorted for matching, built with the rule."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "header_patterns", HeaderPatterns.of(self.allowed_headers))

    def matches(self, origin: str, method: str) -> bool:
        return method in self.allowed_methods and any(
            _wildcard_match(pattern, origin) for pattern in self.allowed_origins
        )

    def allows_header(self, header: str) -> bool:
        return self.header_patterns.allows(header)

    def allow_origin(self, origin: str) -> str:
        """What Access-Control-Allow-Origin says: ``*`` for a rule open to every origin."""
        return "*" if "*" in self.allowed_origins else origin

    def to_json(self) -> dict[str, Any]:
        return {
            "methods": list(self.allowed_methods),
            "origins": list(self.allowed_origins),
            "headers": list(self.allowed_headers),
            "expose": list(self.expose_headers),
            "max_age": self.max_age_seconds,
            "id": self.id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CorsRule:
        return cls(
            allowed_methods=tuple(data["methods"]),
            allowed_origins=tuple(data["origins"]),
            allowed_headers=tuple(data.get("headers", ())),
            expose_headers=tuple(data.get("expose", ())),
            max_age_seconds=data.get("max_age"),
            id=data.get("id"),
        )


def _one_wildcard(kind: str, value: str) -> str:
    if value.count("*") > 1:
        raise S3Error(
            S3ErrorCode.InvalidRequest, f'{kind} "{value}" can not have more than one wildcard.'
        )
    return value


def parse_cors_configuration(body: bytes) -> tuple[CorsRule, ...]:
    """PutBucketCors's ``<CORSConfiguration>`` → its rules, refused as S3 refuses them."""
    root = parse_xml(body)
    if local_name(root.tag) != "CORSConfiguration":
        raise S3Error(S3ErrorCode.MalformedXML)
    elements = list(root)
    rules = children_named(root, "CORSRule")
    if not rules or len(rules) > MAX_RULES or len(rules) != len(elements):
        raise S3Error(S3ErrorCode.MalformedXML)
    return tuple(_parse_rule(rule) for rule in rules)


def _parse_rule(element: Any) -> CorsRule:
    values: dict[str, list[str]] = {}
    for child in element:
        name = local_name(child.tag)
        if name not in _RULE_ELEMENTS or len(child):
            raise S3Error(S3ErrorCode.MalformedXML)
        values.setdefault(name, []).append(child.text or "")
    methods, origins = values.get("AllowedMethod", []), values.get("AllowedOrigin", [])
    if not methods or not origins or len(values.get("ID", [])) > 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    for method in methods:
        if method not in METHODS:
            raise S3Error(
                S3ErrorCode.InvalidRequest,
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}",
            )
    for header in values.get("ExposeHeader", []):
        if "*" in header:
            raise S3Error(
                S3ErrorCode.InvalidRequest,
                f'ExposeHeader "{header}" contains wildcard. We currently do not support '
                "wildcard for ExposeHeader.",
            )
    rule_id = values.get("ID", [None])[0]
    if rule_id is not None and len(rule_id) > MAX_ID:
        raise S3Error(S3ErrorCode.InvalidArgument, "The ID of a CORS rule is too long.")
    max_age: int | None = None
    ages = values.get("MaxAgeSeconds", [])
    if len(ages) > 1:
        raise S3Error(S3ErrorCode.MalformedXML)
    if ages:  # S3's schema says xsd:int: a 32-bit signed integer
        text = ages[0].strip()
        magnitude = decimal(text.removeprefix("-"))
        if magnitude is None or magnitude > 2**31 - (0 if text.startswith("-") else 1):
            raise S3Error(S3ErrorCode.MalformedXML)
        max_age = -magnitude if text.startswith("-") else magnitude
    return CorsRule(
        allowed_methods=tuple(methods),
        allowed_origins=tuple(_one_wildcard("AllowedOrigin", o) for o in origins),
        allowed_headers=tuple(
            _one_wildcard("AllowedHeader", h) for h in values.get("AllowedHeader", [])
        ),
        expose_headers=tuple(values.get("ExposeHeader", [])),
        max_age_seconds=max_age,
        id=rule_id,
    )


def cors_configuration_xml(rules: Iterable[CorsRule]) -> bytes:
    """GetBucketCors's document, elements in the order of AWS's CORSRule shape."""
    parts: list[str] = []
    for rule in rules:
        parts.append("<CORSRule>")
        if rule.id is not None:
            parts.append(_element("ID", rule.id))
        parts.extend(_element("AllowedHeader", h) for h in rule.allowed_headers)
        parts.extend(_element("AllowedMethod", m) for m in rule.allowed_methods)
        parts.extend(_element("AllowedOrigin", o) for o in rule.allowed_origins)
        parts.extend(_element("ExposeHeader", h) for h in rule.expose_headers)
        if rule.max_age_seconds is not None:
            parts.append(_element("MaxAgeSeconds", str(rule.max_age_seconds)))
        parts.append("</CORSRule>")
    return document("CORSConfiguration", parts)


def _element(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"


def requested_headers(value: str | None) -> list[str]:
    """Access-Control-Request-Headers as a list of lower-case names."""
    if not value:
        return []
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def preflight_rule(
    rules: Iterable[CorsRule], origin: str, method: str, headers: list[str]
) -> CorsRule | None:
    """The first rule allowing this origin, method and every requested header (each distinct
    name checked once: a name repeated thousands of times costs one check)."""
    distinct = tuple(dict.fromkeys(headers))
    for rule in rules:
        if rule.matches(origin, method) and all(rule.allows_header(h) for h in distinct):
            return rule
    return None


def actual_rule(rules: Iterable[CorsRule], origin: str, method: str) -> CorsRule | None:
    """The rule an actual (non-preflight) request matches: origin and method only."""
    return next((rule for rule in rules if rule.matches(origin, method)), None)


def _common_headers(rule: CorsRule, origin: str) -> list[tuple[str, str]]:
    allow_origin = rule.allow_origin(origin)
    headers = [
        ("Access-Control-Allow-Origin", allow_origin),
        ("Access-Control-Allow-Methods", ", ".join(rule.allowed_methods)),
    ]
    if rule.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose_headers)))
    if rule.max_age_seconds is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age_seconds)))
    if allow_origin != "*":
        headers.append(("Access-Control-Allow-Credentials", "true"))
    headers.append(("Vary", VARY))
    return headers


def preflight_headers(rule: CorsRule, origin: str, headers: list[str]) -> list[tuple[str, str]]:
    """The headers of a 200 answer to a preflight that ``rule`` allows."""
    answer = _common_headers(rule, origin)
    if headers:
        answer.insert(2, ("Access-Control-Allow-Headers", ", ".join(headers)))
    return answer


def response_headers(rule: CorsRule, origin: str) -> list[tuple[str, str]]:
    """The headers an actual response to a matching cross-origin request carries."""
    return _common_headers(rule, origin)
