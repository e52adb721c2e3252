"""The remote engine's tests use `firm` (tests/conftest.py), a real `strongroom serve` on
loopback, configured on the test's workstation by `server`."""

from __future__ import annotations

import pytest


@pytest.fixture
def server(firm, workspace):
    """``firm``'s server configured on this test's workstation (trusting the firm's CA)."""
    from strongroom.core.remote.servers import read_ca_file

    return workspace.servers.add("firm", firm.url, ca_pem=read_ca_file(firm.ca.pem),
                                 api_key=firm.api_key, timeout_s=30)
