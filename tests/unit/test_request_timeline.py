"""benchmarks.request_timeline's arithmetic over the probe's lines: each phase is the median
of the differences between two points of the same request, requests that missed a point (an
error answered before the upstream) are left out, and the share of requests whose successor
was already waiting is reported."""

from __future__ import annotations

from pathlib import Path

from benchmarks.request_timeline import PHASES, parse, phases


def line(method: str, step: int, waiting: int) -> str:
    points = " ".join(f"{point}={(index + 1) * step}" for index, (_, point) in enumerate(PHASES))
    return f"method={method} {points} next_waiting={waiting}\n"


def test_phases_are_medians_of_per_request_differences(tmp_path: Path) -> None:
    probe = tmp_path / "timeline.txt"
    probe.write_text(
        line("PUT", 10, 1)
        + line("PUT", 20, 0)
        + line("PUT", 30, 0)
        + "method=PUT app=5 handler=9 next_waiting=1\n"  # refused early: not counted
        + line("GET", 7, 1)
    )
    found = phases(parse(probe), "PUT")
    assert found["requests"] == 3
    assert all(found[name] == 20 for name, _ in PHASES)  # every step of the median request
    # first byte to the answer written, less the upstream phase (the work after it not counted)
    assert found["inside"] == 20 * (len(PHASES) - 2)
    assert found["next waiting"] == 1 / 3
    assert phases(parse(probe), "GET")["engine"] == 7
    assert phases(parse(probe), "HEAD") == {"requests": 0}
