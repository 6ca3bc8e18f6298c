"""The model-based fuzz with wave 15 I's rules (conditional writes, object and bucket tags:
tests/support/w15i_rules.py) in process over a local store, as tests/unit/test_w14i_stateful.py
runs wave 14's. Derandomized and small in CI; ``W15I_EXAMPLES=2000`` runs it long."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings

from tests.support.w14i_transport import InProcess, Transport
from tests.support.w15i_rules import MoreRules

EXAMPLES = int(os.environ.get("W15I_EXAMPLES", "0"))


class LocalMoreRules(MoreRules):
    def make_transport(self) -> Transport:
        self.root = Path(tempfile.mkdtemp(prefix="w15i-"))
        return InProcess(self.root)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.root, ignore_errors=True)


TestLocalMoreRules = LocalMoreRules.TestCase
TestLocalMoreRules.settings = settings(
    max_examples=EXAMPLES or 8,
    stateful_step_count=40 if EXAMPLES else 25,
    derandomize=not EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
    print_blob=True,
)
