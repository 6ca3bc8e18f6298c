"""When a replica is ready: what ``/readyz`` (and the start-up line) decide from the upstreams.

Every replica of a deployment probes the same upstream buckets, so an upstream that does not
answer fails them all at once: with readiness failing on any one upstream, a load balancer or a
Kubernetes Service is left with no replica at all, and the tenants of every healthy upstream
lose the service together with the tenants of the broken one (a cascade). Their requests never
needed that upstream: a request to a bucket on an upstream that is down is answered 503
ServiceUnavailable (or the upstream's error) by any replica, ready or not.

So, by default (``server.readiness_requires: one_upstream``), a replica is unready only for
what is its own: while it starts or drains (:mod:`s3proxy.admin_app`), when a local store (its
own disk) cannot serve, or when no upstream bucket answers at all (then this replica cannot
serve anyone, and the likely cause is its own network: another replica may still reach them).
Credentials this replica cannot obtain (``CredentialsUnavailable``: the chain found none, or a
file it reads, a web identity token or a credentials file, is missing or unreadable: a broken
secret or service-account mount) are its own too, though they look like an outage of that
upstream: another replica, with its mounts intact, signs and serves. A credential endpoint
that does not answer (STS, instance metadata) stays shared, like an upstream that does not,
and so does one that answers and refuses (``CredentialsRefused``: an STS AccessDenied for a
role the gateway may not assume, named apart from ``Unreachable`` so that the operator looks at
the role and its trust policy, not the network): every replica asks the same.
An upstream bucket that fails while others answer keeps the replica ready; ``/readyz`` still
names its condition and ``s3proxy_upstream_ready`` is 0 for it, which the chart's alert rule
reads. ``every_upstream`` is the strict behaviour of earlier releases: ready only while every
configured upstream bucket answers.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

Requirement = Literal["one_upstream", "every_upstream"]

OK = "ok"
CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable"
CREDENTIALS_REFUSED = "CredentialsRefused"
"""A credential endpoint (STS) answered and refused: the role or its trust policy, shared."""
OWN_CONDITIONS = frozenset({CREDENTIALS_UNAVAILABLE})
"""Conditions that are this replica's own whatever upstream they name."""


def upstream_of(target: str) -> str:
    """The upstream name of an ``upstream/bucket`` target (upstream names hold no '/')."""
    return target.split("/", 1)[0]


def is_ready(
    results: Mapping[str, tuple[str, str]],
    requires: Requirement = "one_upstream",
    own: Collection[str] = (),
) -> bool:
    """Whether the replica is ready, from :meth:`s3proxy.gateway.Gateway.check_ready`'s
    ``{target: (condition, detail)}``. ``own``: names of upstreams that are this replica's own
    (local stores), whose failure is never shared with another replica."""
    if not results:
        return True  # nothing to check: a configuration without upstream buckets
    failing = [target for target, (condition, _) in results.items() if condition != OK]
    if requires == "every_upstream":
        return not failing
    if any(upstream_of(target) in own for target in failing):
        return False
    if any(results[target][0] in OWN_CONDITIONS for target in failing):
        return False
    return len(failing) < len(results)
