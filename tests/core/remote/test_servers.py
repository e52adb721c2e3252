"""The configured servers' record: what is accepted, and a record edited outside Strongroom."""

from __future__ import annotations

import json

import pytest

from strongroom.core.inference.identity import remote_identity
from strongroom.core.remote.servers import SERVERS_RECORD, ServerError


def test_a_record_edited_outside_strongroom_is_not_trusted(workspace):
    """Someone who can write the secret store's files swaps the address for plain HTTP
    (or drops the pin): no server is used, and the message says so."""
    workspace.servers.add("firm", "https://10.0.0.5:8443", pin="ab" * 32)
    for edit in ({"url": "http://10.0.0.5:8080"}, {"pin": None}, {"name": "../x"},
                 {"pin": "not-a-pin"}, {"url": "https://user:pw@10.0.0.5:8443"}):
        entry = {**json.loads(workspace.secrets.get(SERVERS_RECORD))[0], **edit}
        workspace.secrets.set(SERVERS_RECORD, json.dumps([entry]))
        with pytest.raises(ServerError, match="cannot be read.*No server is used"):
            workspace.servers.servers()
        workspace.allow_servers()  # the guard then allows none
    workspace.secrets.set(SERVERS_RECORD, "[]")


def test_a_servers_model_name_cannot_forge_what_people_read():
    identity = remote_identity("firm", "model\x1b[2J\u202egnp.exe\nAnswered by: local")
    assert "\x1b" not in identity.name and "\u202e" not in identity.name
    assert "\n" not in identity.summary()
    assert identity.model_id.startswith("model\x1b")  # asked for by its own name
