"""A real `strongroom serve` on loopback for the remote engine's tests: the demo model from a
store of its own, TLS with a certificate from a test CA, and an API key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import replicate_tree
from tests.helpers.serving import Served, free_port, start_serve
from tests.helpers.tls import Issued, TestCA, make_ca

API_KEY = "test-api-key-0123456789abcdef"


@dataclass
class Firm:
    """The firm's side: its CA, its server's certificate, the running server."""

    ca: TestCA
    issued: Issued
    served: Served
    api_key: str = API_KEY

    @property
    def url(self) -> str:
        return self.served.url


@pytest.fixture(scope="module")
def firm(tmp_path_factory, demo_store_template) -> Firm:
    work = tmp_path_factory.mktemp("firm-server")
    replicate_tree(demo_store_template, work / "home" / "data" / "store")
    ca = make_ca(work / "ca")
    issued = ca.issue(work / "tls")
    key_file = work / "api-key"
    key_file.write_text(API_KEY + "\n")
    served = start_serve(work / "home", "SmolLM2-135M-Instruct", "127.0.0.1", free_port(),
                         issued.cert, issued.key, key_file)
    yield Firm(ca, issued, served)
    served.stop()


@pytest.fixture
def server(firm, workspace):
    """``firm``'s server configured on this test's workstation (trusting the firm's CA)."""
    from strongroom.core.remote.servers import read_ca_file

    return workspace.servers.add("firm", firm.url, ca_pem=read_ca_file(firm.ca.pem),
                                 api_key=firm.api_key, timeout_s=30)


def ca_file(firm: Firm) -> Path:
    return firm.ca.pem
