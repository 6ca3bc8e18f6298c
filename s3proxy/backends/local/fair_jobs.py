"""The local store's database thread, taken in turn by tenants instead of first come first served.

Every request on a local store runs its index work (lookups, commits, listings) as jobs on the
store's one database thread (:meth:`s3proxy.backends.local.core.LocalCore._run`): SQLite wants
one writer, and one thread keeps every job's transaction whole. Served in arrival order, that
thread was a queue all tenants shared, and one tenant's many costly jobs (ListParts pages of
1,000 parts, Completes of 10,000 parts, DeleteObjects of 1,000 keys, each tens to hundreds of
milliseconds) stood in front of everyone else's: with tenant A running 16 ListParts of 1,000
parts at once, tenant B's 1 KiB GET waited about a second (p50; 10 ms with A idle), though A
stayed within its request slots and the process had CPU to spare.

Here each tenant (:data:`s3proxy.limits.CURRENT_TENANT` of the request that submits the job)
has its own queue, and the thread takes one job from each tenant with jobs waiting in turn. A
tenant's own jobs still run in the order it submitted them (a request's jobs run one after
another, as before); only jobs of different tenants waiting at once are reordered, and no
request ever waited on such an order. Another tenant's job so waits for at most one job of each
other busy tenant, not for all of them. Jobs outside requests (start-up, readiness) are the
tenant "" and take their turn like any other.

The thread itself is a :class:`~concurrent.futures.ThreadPoolExecutor` of one worker (its exit
handling at shutdown and interpreter exit kept as they were). Each job submitted also submits
one work item to it, and each work item runs whichever job is next in turn when it starts: as
many items as jobs, so every job runs, with one hand-off to the thread each as before (a drain
submitted once per idle spell added a second hand-off, +11-15 us per job on an idle store).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from s3proxy.limits import CURRENT_TENANT

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[[], Any]]


class FairJobs:
    """One worker thread whose queued jobs are taken round-robin over the submitting tenants.

    :meth:`submit` and :meth:`shutdown` behave as a one-worker ThreadPoolExecutor's: the
    returned future can be cancelled while its job waits (it then never runs), and a shutdown
    with ``wait`` runs every job already queued first."""

    def __init__(self, thread_name_prefix: str) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=thread_name_prefix)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[_Job]] = {}
        self._turns: deque[str] = deque()
        """Tenants with jobs waiting, in the order their next job runs."""
        self._closed = False

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue ``job`` as the running request's tenant's; its future."""
        future: Future[T] = Future()
        tenant = CURRENT_TENANT.get()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            queue = self._queues.get(tenant)
            if queue is None:
                queue = self._queues[tenant] = deque()
                self._turns.append(tenant)
            queue.append((future, job))
            self._executor.submit(self._run_next)  # under the lock: items in step with jobs
        return future

    def waiting(self) -> int:
        """How many jobs wait for the thread (the running one not counted)."""
        with self._lock:
            return sum(len(queue) for queue in self._queues.values())

    def _next(self) -> _Job | None:
        """The next tenant's first job (that tenant to the back of the turns), under the lock;
        None only if none waits (never while items and jobs are in step)."""
        with self._lock:
            if not self._turns:
                return None
            tenant = self._turns.popleft()
            queue = self._queues[tenant]
            taken = queue.popleft()
            if queue:
                self._turns.append(tenant)
            else:
                del self._queues[tenant]
            return taken

    def _run_next(self) -> None:
        """One work item on the thread: the job next in turn."""
        taken = self._next()
        if taken is None:
            return
        future, job = taken
        if not future.set_running_or_notify_cancel():
            return  # cancelled while it waited: never run
        try:
            result = job()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def shutdown(self, wait: bool = True) -> None:
        """No job accepted after this; with ``wait``, the queued ones run first."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait)
