"""Exporting a conversation: the file, and its record in the audit log."""

import json

import pytest

from strongroom.core.audit.events import AuditUnavailable
from strongroom.core.chats.export import export_conversation


@pytest.fixture
def conversation(workspace):
    chat = workspace.chats.create_conversation("Contract review")
    workspace.chats.add_message(chat.id, "user", "Which clauses limit liability?")
    workspace.chats.add_message(chat.id, "assistant", "Clause 9 caps it.", model="Demo")
    return chat.id


def test_export_writes_the_file_and_records_its_digest(workspace, conversation, tmp_path):
    data = export_conversation(workspace.chats, conversation, tmp_path / "c.md", "md", workspace.audit)
    assert (tmp_path / "c.md").read_bytes() == data
    assert b"## Assistant (Demo)\n\nClause 9 caps it." in data
    entry = json.loads(workspace.paths.audit_log.read_bytes().splitlines()[-1])
    assert entry["event"] == "chat_export" and entry["details"]["bytes"] == len(data)
    document = json.loads(export_conversation(workspace.chats, conversation, tmp_path / "c.json",
                                              "json", workspace.audit))
    assert [m["content"] for m in document["messages"]][-1] == "Clause 9 caps it."


def test_no_export_that_cannot_be_recorded(workspace, conversation, tmp_path):
    workspace.audit.mark_broken("The audit log cannot be written (simulated).")
    with pytest.raises(AuditUnavailable, match="simulated"):
        export_conversation(workspace.chats, conversation, tmp_path / "c.md", "md", workspace.audit)
    assert not (tmp_path / "c.md").exists()
