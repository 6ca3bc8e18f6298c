"""How much of a quota's room one process may take before it must exchange records.

Every process (each worker of each replica) checks a write against its own view: the usage the
records showed at its last read, plus its own writes. Another process's writes stay invisible
until that process publishes them and this one reads them again, so with no further rule each
of N processes could let in the whole remaining room, and a tenant could store N times what is
left of its quota within one ``quota_sync_seconds`` window (measured: 2 workers, a 30 MB quota,
60 MB stored).

So a process takes at most its share of the room: the room its view shows without its own
unpublished growth (its writes not yet published, and those in flight), divided by 2 × N, N
being the number of processes that may be writing: at least ``server.workers``, and more when
it sees more live records (other replicas). A write that would take it past its share first
makes it publish its record and read the others' (an exchange), and the share is then taken
again of the fresh room. What the others can let in unseen is then about one share each, taken
of the room as each last saw it (measured, same scenario: 30.1 MB in 11 runs of 13, 37.5 MB at
most). A tenant far from its quota has a share far above what it writes between two regular
publications, so it never pays for an exchange; one alone (N = 1) never does either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping

from s3proxy.model import QuotaScope
from s3proxy.quotas import Root, Usage

SPLIT = 2
"""A share is the room divided by ``SPLIT`` × N: the others' unseen shares are then under half
the room together (N - 1 of them); a larger split narrows that further at the cost of more
exchanges near the limit (about ``SPLIT`` × N × ln(room / write size) to fill it)."""


def past_share(
    scope: QuotaScope, view: Usage, unpublished: Usage, change: Usage, processes: int
) -> bool:
    """Whether a write adding ``change`` to a scope this process sees at ``view`` (which
    includes ``unpublished``: its growth that no other process can see yet) would take it past
    its share of the room among ``processes``. A write that does not grow a figure, or that
    does not fit the room at all (the quota check refuses it), is never past a share."""
    if processes <= 1:
        return False  # alone, it sees every write as it is made
    figures = (
        (scope.max_bytes, view.bytes, unpublished.bytes, change.bytes),
        (scope.max_objects, view.objects, unpublished.objects, change.objects),
    )
    for limit, seen, mine, grows in figures:
        if limit is None or grows <= 0:
            continue
        mine = max(mine, 0)
        room = limit - (seen - mine)
        if room <= 0 or mine + grows > room:
            continue  # refused by the quota check, whatever the others did
        if (mine + grows) * processes * SPLIT > room:
            return True
    return False


def unpublished(
    mine: Mapping[Root, Usage],
    published: Mapping[Root, Usage],
    held: Mapping[Root, Usage],
    roots: Iterable[Root],
) -> Usage:
    """What no other process can see yet of this one's growth under ``roots``: its counted
    changes beyond those it last published, and its writes in flight."""
    total = Usage()
    for root in roots:
        was = published.get(root, Usage())
        total += mine.get(root, Usage()) + held.get(root, Usage())
        total -= was
    return total


async def keep_to_share(
    past: Callable[[], tuple[bool, bool, bool, int]],
    exchange: Callable[[int], Awaitable[None]],
    landed: Callable[[], Awaitable[object]],
    patience: float,
) -> None:
    """Before a write: while ``past()`` says it is past the process's share, exchange records.
    ``past()`` also says whether the process still has growth no other process can see, whether
    some of it is writes in flight, and how many reads of the records it has made (an exchange
    another caller made since counts for this one). Past the share after an exchange, it waits
    for a write in flight to end and exchanges again; with nothing of its own left unseen, the
    write may take the whole room its view shows: without that, a single object larger than a
    share could never be stored. It waits ``patience`` seconds at most (quota_sync_seconds): a
    slow upload in flight must not hold back its tenant's other writes for its whole length."""
    exchanged = False
    while True:
        over, unseen, flying, reads = past()
        if not over or (exchanged and not unseen):
            return
        if exchanged and flying:
            try:
                await asyncio.wait_for(landed(), patience)
            except TimeoutError:
                return
            continue
        await exchange(reads)
        exchanged = True


class Landings:
    """Wakes whoever waits in :func:`keep_to_share` each time a write in flight ends."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def note(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def wait(self) -> Coroutine[object, object, bool]:
        """The next landing after this call (the event is taken now, not when the awaiting
        starts: a landing in between would otherwise be missed)."""
        return self._event.wait()
