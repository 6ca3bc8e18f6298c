"""The local store's database thread serves tenants in turn (wave 15 F).

Before, the thread took jobs first come first served, so one tenant's queue of costly jobs
(16 ListParts of 1,000 parts) stood before another tenant's GET lookup: its GET waited about a
second. These tests hold the thread on a first job, queue jobs of two tenants behind it, and
read the order they ran in; no timing. test_w15f_store_turns checks the store itself.
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import Future

import pytest

from s3proxy.backends.local.fair_jobs import FairJobs
from s3proxy.limits import CURRENT_TENANT


def _as(tenant: str, jobs: FairJobs, job: object) -> Future[object]:
    """Submit ``job`` as ``tenant``'s request would."""
    context = contextvars.copy_context()
    context.run(CURRENT_TENANT.set, tenant)
    return context.run(jobs.submit, job)  # type: ignore[arg-type]


def _held(jobs: FairJobs) -> tuple[threading.Event, Future[object]]:
    """The thread busy on a job that runs until the returned event is set."""
    started, release = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    first = _as("x", jobs, block)
    assert started.wait(10)
    return release, first


def test_a_tenants_queued_jobs_do_not_stand_before_another_tenants_job() -> None:
    jobs = FairJobs("w15f")
    ran: list[str] = []
    release, first = _held(jobs)
    futures = [_as("a", jobs, lambda n=n: ran.append(f"a{n}")) for n in range(5)]
    futures.append(_as("b", jobs, lambda: ran.append("b0")))
    futures.append(_as("b", jobs, lambda: ran.append("b1")))
    release.set()
    for future in [first, *futures]:
        future.result(10)
    jobs.shutdown()
    # b's first job runs after a's first, not after all five; each tenant's own order is kept
    assert ran == ["a0", "b0", "a1", "b1", "a2", "a3", "a4"]


def test_a_cancelled_queued_job_never_runs_and_results_and_errors_arrive() -> None:
    jobs = FairJobs("w15f")
    ran: list[str] = []
    release, first = _held(jobs)
    cancelled = _as("a", jobs, lambda: ran.append("cancelled"))
    failing = _as("b", jobs, lambda: 1 / 0)
    answered = _as("a", jobs, lambda: 42)
    assert cancelled.cancel()
    release.set()
    assert answered.result(10) == 42
    with pytest.raises(ZeroDivisionError):
        failing.result(10)
    assert first.result(10) is None and ran == []
    jobs.shutdown()


def test_a_shutdown_runs_the_queued_jobs_and_then_refuses_new_ones() -> None:
    jobs = FairJobs("w15f")
    ran: list[str] = []
    release, _ = _held(jobs)
    queued = [_as(t, jobs, lambda t=t: ran.append(t)) for t in ("a", "b", "a")]
    release.set()
    jobs.shutdown(wait=True)
    assert all(future.done() for future in queued) and sorted(ran) == ["a", "a", "b"]
    with pytest.raises(RuntimeError):
        _as("a", jobs, lambda: None)
