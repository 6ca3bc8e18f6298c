"""The wave 15 I fuzz: the wave 14 I machine with wave 15's rules (tests/support/w15i_rules.py)
and a rule that chooses which replica the next requests go to (tests/support/w15i_replicas.py)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import rule

from tests.support.w14i_transport import Answer
from tests.support.w15i_replicas import ROUTES, Replicas
from tests.support.w15i_rules import MoreRules


class ReplicaFuzz(MoreRules):
    """:class:`MoreRules` through :class:`Replicas`; the route is the machine's to choose."""

    transport: Replicas

    def stale(self, answer: Answer) -> bool:
        """An anonymous write within another replica's window may be refused as if the grant
        were not yet seen (README "Who sees a change when"), never carried out wrongly."""
        return self.transport.unsettled and (answer.status, answer.code) == (403, "AccessDenied")

    @rule(mode=st.sampled_from(ROUTES))
    def route(self, mode: str) -> None:
        self.transport.route(mode)
