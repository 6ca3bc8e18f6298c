"""The Grafana dashboard and the Prometheus alert rules in charts/ read only what the proxy exports.

A dashboard panel or an alert on a metric name the proxy never exported shows nothing and never
fires, silently. Every metric name and label each expression uses is checked against the metrics
this process registers by importing the server (s3proxy.metrics and any module that adds one).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import yaml

import s3proxy.server  # noqa: F401  (registers every metric the server exports)

CHART = Path(__file__).resolve().parents[2] / "charts" / "s3proxy"
DASHBOARD = CHART / "dashboards" / "s3proxy.json"
RULES = CHART / "alerts" / "s3proxy-rules.yaml"

PROMETHEUS_OWN = {"up": {"job", "instance"}}
"""Series Prometheus writes itself for every target."""
ALWAYS = {"instance", "job", "le"}
"""Labels every scraped series (instance, job) or every histogram bucket (le) carries."""
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
LABEL_VALUES = r"label_values\(\s*([^,()]+?)\s*,\s*(\w+)\s*\)"
"""Grafana's variable query: label_values(series, label)."""
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def exported() -> dict[str, set[str]]:
    """Sample name -> label names, for every metric registered in this process."""
    names: dict[str, set[str]] = dict(PROMETHEUS_OWN)
    collectors = prometheus_client.REGISTRY._collector_to_names
    for collector in list(collectors):
        labels = set(getattr(collector, "_labelnames", ()))
        for family in collector.collect():
            for suffix in SUFFIXES.get(family.type, ("",)):
                names[family.name + suffix] = labels | ALWAYS
            for sample in family.samples:
                names.setdefault(sample.name, set()).update(sample.labels)
    return names


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression selects (not functions, labels or keywords)."""
    expr = re.sub(LABEL_VALUES, r"\1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\$\w+", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][\w:]*", expr):
        if expr[match.end() :].lstrip().startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def label_names(expr: str) -> set[str]:
    """Labels an expression matches on or groups by."""
    labels = {label for _, label in re.findall(LABEL_VALUES, expr)}
    for group in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels.update(name.strip() for name in group.split(",") if name.strip())
    for matchers in re.findall(r"\{([^}]*)\}", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)):
        labels.update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", matchers))
    return labels


def _dashboard_exprs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("expr", "definition") and isinstance(value, str):
                yield value
            else:
                yield from _dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dashboard_exprs(item)


def dashboard_exprs() -> list[str]:
    return list(_dashboard_exprs(json.loads(DASHBOARD.read_text())))


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_checker_sees_names_and_labels() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (op, le) (rate(s3proxy_x_bucket{tenant=~"$tenant"}'
        "[$__rate_interval]))) / on(instance) group_left up > 5 and s3proxy_y"
    )
    assert metric_names(expr) == {"s3proxy_x_bucket", "up", "s3proxy_y"}
    assert label_names(expr) == {"op", "le", "tenant", "instance"}
    assert "s3proxy_not_a_metric_total" not in exported()


@pytest.mark.parametrize(
    "expr", [*dashboard_exprs(), *(rule["expr"] for rule in rules())], ids=lambda e: e[:60]
)
def test_every_series_and_label_used_is_exported(expr: str) -> None:
    known = exported()
    names = metric_names(expr)
    assert names, "an expression that reads no metric"
    missing = names - known.keys()
    assert not missing, f"not exported by the proxy: {sorted(missing)}"
    available = set().union(*(known[name] for name in names))
    unknown = label_names(expr) - available
    assert not unknown, f"labels none of {sorted(names)} has: {sorted(unknown)}"


def test_dashboard_covers_the_operators_questions() -> None:
    text = " ".join(dashboard_exprs())
    for metric in (
        "s3proxy_requests_total",
        "s3proxy_request_duration_seconds_bucket",
        "s3proxy_received_bytes_total",
        "s3proxy_sent_bytes_total",
        "s3proxy_upstream_errors_total",
        "s3proxy_requests_in_flight",
        "s3proxy_limited_requests_total",
    ):
        assert metric in text
    assert "by (operation)" in text and "by (tenant)" in text
    panels = json.loads(DASHBOARD.read_text())["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))


def test_alert_rules_cover_errors_ratio_readiness_and_saturation() -> None:
    found = rules()
    for rule in found:
        assert (
            rule["alert"]
            and rule["for"]
            and rule["labels"]["severity"]
            in {
                "warning",
                "critical",
            }
        )
        assert rule["annotations"]["summary"]
    used = {name for rule in found for name in metric_names(rule["expr"])}
    assert {
        "s3proxy_upstream_errors_total",  # upstream errors
        "s3proxy_requests_total",  # 5xx ratio
        "s3proxy_upstream_ready",  # readiness
        "s3proxy_requests_in_flight",  # saturation
        "s3proxy_limited_requests_total",
    } <= used
    ratio = next(rule["expr"] for rule in found if rule["alert"] == "S3ProxyHigh5xxRatio")
    assert 'status=~"5.."' in ratio and "/" in ratio
