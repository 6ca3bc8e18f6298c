"""CORSConfiguration parsing and rule matching, as S3 documents and answers them."""

from __future__ import annotations

import pytest

from s3proxy.cors import (
    CorsRule,
    actual_rule,
    cors_configuration_xml,
    parse_cors_configuration,
    preflight_headers,
    preflight_rule,
    requested_headers,
    response_headers,
)
from s3proxy.errors import S3Error, S3ErrorCode

ORIGIN = "<AllowedOrigin>https://*.example.com</AllowedOrigin>"
METHOD = "<AllowedMethod>PUT</AllowedMethod>"


def configuration(*rules: str) -> bytes:
    body = "".join(f"<CORSRule>{rule}</CORSRule>" for rule in rules)
    return (
        '<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{body}</CORSConfiguration>"
    ).encode()


def refused(body: bytes) -> S3Error:
    with pytest.raises(S3Error) as caught:
        parse_cors_configuration(body)
    return caught.value


def test_a_full_rule_round_trips_through_the_get_document() -> None:
    body = configuration(
        "<ID>web</ID><AllowedHeader>x-amz-*</AllowedHeader><AllowedMethod>GET</AllowedMethod>"
        f"{METHOD}{ORIGIN}<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>",
        "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>",
    )
    rules = parse_cors_configuration(body)
    assert rules[0] == CorsRule(
        allowed_methods=("GET", "PUT"),
        allowed_origins=("https://*.example.com",),
        allowed_headers=("x-amz-*",),
        expose_headers=("ETag",),
        max_age_seconds=3000,
        id="web",
    )
    assert parse_cors_configuration(cors_configuration_xml(rules)) == rules
    assert CorsRule.from_json(rules[0].to_json()) == rules[0]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (configuration(), S3ErrorCode.MalformedXML, None),
        (configuration(*[f"{METHOD}{ORIGIN}"] * 101), S3ErrorCode.MalformedXML, None),
        (configuration(ORIGIN), S3ErrorCode.MalformedXML, None),
        (configuration(METHOD), S3ErrorCode.MalformedXML, None),
        (configuration(f"{METHOD}{ORIGIN}<Bogus>1</Bogus>"), S3ErrorCode.MalformedXML, None),
        (b"<CORSConfiguration><CORSRule>", S3ErrorCode.MalformedXML, None),
        (
            configuration(f"<AllowedMethod>PATCH</AllowedMethod>{ORIGIN}"),
            S3ErrorCode.InvalidRequest,
            "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
        ),
        (
            configuration(f"{METHOD}<AllowedOrigin>https://*.example.*</AllowedOrigin>"),
            S3ErrorCode.InvalidRequest,
            'AllowedOrigin "https://*.example.*" can not have more than one wildcard.',
        ),
        (
            configuration(f"{METHOD}{ORIGIN}<AllowedHeader>**</AllowedHeader>"),
            S3ErrorCode.InvalidRequest,
            'AllowedHeader "**" can not have more than one wildcard.',
        ),
        (
            configuration(f"{METHOD}{ORIGIN}<ExposeHeader>x-*</ExposeHeader>"),
            S3ErrorCode.InvalidRequest,
            None,
        ),
    ],
)
def test_s3_refuses_these_configurations(
    body: bytes, code: S3ErrorCode, message: str | None
) -> None:
    error = refused(body)
    assert error.code is code
    if message is not None:
        assert error.message == message


def test_a_hundred_rules_are_accepted() -> None:
    assert len(parse_cors_configuration(configuration(*[f"{METHOD}{ORIGIN}"] * 100))) == 100


def test_hostile_xml_is_malformed() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><CORSConfiguration>&a;</CORSConfiguration>'
    assert refused(bomb).code is S3ErrorCode.MalformedXML


RULES = parse_cors_configuration(
    configuration(
        f"{METHOD}{ORIGIN}<AllowedHeader>Content-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        "<MaxAgeSeconds>60</MaxAgeSeconds>",
        "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>",
    )
)


def test_the_first_rule_allowing_origin_method_and_every_header_applies() -> None:
    headers = requested_headers("Content-Type, content-md5")
    rule = preflight_rule(RULES, "https://app.example.com", "PUT", headers)
    assert rule is RULES[0]
    assert preflight_headers(rule, "https://app.example.com", headers) == [
        ("Access-Control-Allow-Origin", "https://app.example.com"),
        ("Access-Control-Allow-Methods", "PUT"),
        ("Access-Control-Allow-Headers", "content-type, content-md5"),
        ("Access-Control-Expose-Headers", "ETag"),
        ("Access-Control-Max-Age", "60"),
        ("Access-Control-Allow-Credentials", "true"),
        ("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"),
    ]


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://example.com", "PUT", []),  # the wildcard needs its "." before "example"
        ("https://app.example.com", "DELETE", []),
        ("https://app.example.com", "PUT", ["x-amz-date"]),  # one header not allowed
        ("HTTPS://APP.EXAMPLE.COM", "PUT", []),  # origins compare case-sensitively
    ],
)
def test_no_rule_matches(origin: str, method: str, headers: list[str]) -> None:
    assert preflight_rule(RULES, origin, method, headers) is None


def test_a_rule_open_to_every_origin_answers_star_without_credentials() -> None:
    rule = preflight_rule(RULES, "https://elsewhere.org", "GET", [])
    assert rule is RULES[1]
    headers = dict(response_headers(rule, "https://elsewhere.org"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers


def test_an_actual_request_is_matched_on_origin_and_method_only() -> None:
    assert actual_rule(RULES, "https://app.example.com", "PUT") is RULES[0]
    assert actual_rule(RULES, "https://app.example.com", "DELETE") is None
