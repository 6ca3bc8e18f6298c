"""What the A/B benchmarks share: two checkouts' proxies (A, the baseline, and B, the
candidate) measured in turns, and one tenant's load run beside another tenant's measurement.

Each A/B script (copy_etag_ab, copy_checksum_ab, costly_parts, delete_steps, upload_listings)
had its own copy of these; one copy keeps their figures comparable (the same turn order, the
same medians and the same "B lower in N of M").
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.fairness import _ms

Figures = dict[str, Any]


def turns(pair: int) -> tuple[str, str]:
    """The order of A and B in pair number ``pair``: alternating, so that neither always runs
    on a box the other has just warmed (or loaded)."""
    return ("A", "B") if pair % 2 == 0 else ("B", "A")


def lower_in(label: str, results: dict[str, list[float]]) -> str:
    """One line: A's and B's medians (seconds) and in how many pairs B's figure was lower."""
    a, b = results["A"], results["B"]
    won = sum(y < x for x, y in zip(a, b, strict=True))
    return (
        f"{label}: A {statistics.median(a):.3f} s, B {statistics.median(b):.3f} s, "
        f"B lower in {won} of {len(a)}"
    )


def rounds_in_turns(pairs: int, one: Callable[[str], Figures]) -> dict[str, list[Figures]]:
    """``one("A")`` and ``one("B")`` in :func:`turns` for ``pairs`` pairs, each round's figures
    printed as it ends; every round's figures by tree."""
    rounds: dict[str, list[Figures]] = {"A": [], "B": []}
    for number in range(pairs):
        for name in turns(number):
            figures = one(name)
            rounds[name].append(figures)
            print(name, json.dumps(figures), flush=True)
    return rounds


def summary(
    rounds: dict[str, list[Figures]], medians: Iterable[str], compared: Iterable[str]
) -> dict[str, Any]:
    """Each tree's median of every figure of ``medians``, then, for each of ``compared``, in
    how many pairs B's was lower (``"B lower <figure>": "N of M"``)."""
    medians = tuple(medians)
    found: dict[str, Any] = {
        name: {figure: statistics.median(r[figure] for r in runs) for figure in medians}
        for name, runs in rounds.items()
    }
    for figure in compared:
        pairs = list(zip(rounds["A"], rounds["B"], strict=True))
        lower = sum(b[figure] < a[figure] for a, b in pairs)
        found[f"B lower {figure}"] = f"{lower} of {len(pairs)}"
    return found


def latency_figures(
    idle: list[float],
    loaded: list[float],
    failures: int,
    answers: dict[str, int],
    *,
    worst: bool = False,
) -> Figures:
    """Tenant b's GET latency percentiles with a idle and while a loaded the proxy (``worst``:
    also the slowest loaded one), b's failed GETs and a's answers."""
    figures: Figures = {
        "idle_p50_ms": _ms(idle, 0.5),
        "idle_p99_ms": _ms(idle, 0.99),
        "loaded_p50_ms": _ms(loaded, 0.5),
        "loaded_p99_ms": _ms(loaded, 0.99),
    }
    if worst:
        figures["loaded_max_ms"] = _ms(loaded, 1.0)
    return {**figures, "b_failures": failures, "a_answers": answers}


@contextmanager
def loaded_by(load: Callable[..., None], *args: Any) -> Iterator[dict[str, int]]:
    """``load(*args, stop, out)`` in a forked process while the block runs (a tenant's load
    must not share the measuring process's event loop); at the block's end ``stop`` is set and
    what ``load`` put in ``out`` (its answers, counted) fills the dict yielded."""
    context = multiprocessing.get_context("fork")
    stop, out = context.Event(), context.Queue()
    loader = context.Process(target=load, args=(*args, stop, out))
    loader.start()
    answers: dict[str, int] = {}
    try:
        yield answers
    except BaseException:
        loader.terminate()
        loader.join()
        raise
    stop.set()
    answers.update(out.get())
    loader.join()


def count_answers(answer: Callable[[], str], threads: int, stop: Any) -> dict[str, int]:
    """``answer()`` called back to back in each of ``threads`` threads until ``stop`` is set;
    how many times each answer came."""
    answers: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            got = answer()
            with lock:
                answers[got] += 1

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return dict(answers)
