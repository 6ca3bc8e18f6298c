"""Every client's scripted session (conformance/sessions) on every upstream, over HTTP and TLS.

One test per matrix cell: (upstream, scheme, client, step). The client's whole session runs once,
in the background from the moment its proxy is up (tests/clients/conftest.py), and each cell
reads its recorded step result, so a failing step fails exactly its own cell; known failures are
strict expected failures in tests/expected_failures.py.
"""

from __future__ import annotations

import pytest

from conformance.sessions.base import STEPS
from conformance.sessions.clients import CLIENT_NAMES
from tests.clients.conftest import Recorder, RunningProxy

pytestmark = [pytest.mark.clients, pytest.mark.integration]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("client", CLIENT_NAMES)
def test_step(recorder: Recorder, client_proxy: RunningProxy, client: str, step: str) -> None:
    result = recorder.session(client_proxy, client)
    if isinstance(result, str):
        pytest.skip(result)
    outcome = result.step(step)
    if outcome.status == "skipped":
        pytest.skip(outcome.detail)
    assert outcome.status == "passed", outcome.detail
