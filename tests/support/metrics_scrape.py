"""Reading the proxy's Prometheus exposition (its admin port's ``GET /metrics``) in tests.

A request is counted once its answer has been sent (s3proxy.app), so its samples may trail the
client's answer by a moment: :func:`scrape_until` waits for the samples a test needs instead of
reading once (which failed on a loaded box), then the test asserts on what it read.
"""

from __future__ import annotations

import urllib.request

from tests.support.waiting import DEADLINE, wait_for

SCRAPE_TIMEOUT = 30.0
"""Seconds one scrape may take."""


def scrape(admin_endpoint: str) -> str:
    """The exposition text of the admin port at ``admin_endpoint`` (``http://host:port``)."""
    with urllib.request.urlopen(admin_endpoint + "/metrics", timeout=SCRAPE_TIMEOUT) as answer:
        return str(answer.read().decode())


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of ``text``'s samples called ``name`` whose labels include ``labels``."""
    wanted = [f'{label}="{value}"' for label, value in labels.items()]
    total = 0.0
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.partition("{")[0] == name and all(w in sample for w in wanted):
            total += float(value)
    return total


def scrape_until(admin_endpoint: str, *wanted: str, timeout: float = DEADLINE) -> str:
    """The exposition once every string of ``wanted`` is in it (the requests that make them
    have been counted); AssertionError naming the missing ones after ``timeout``."""
    seen = ""

    def complete() -> bool:
        nonlocal seen
        seen = scrape(admin_endpoint)
        return all(w in seen for w in wanted)

    try:
        wait_for(complete, "/metrics with every sample wanted", timeout)
    except AssertionError:
        missing = [w for w in wanted if w not in seen]
        raise AssertionError(f"not within {timeout} s: /metrics without {missing}") from None
    return seen
