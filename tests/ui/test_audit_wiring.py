"""Every inference and every security event in the window leaves a verifiable audit entry."""

import json

import pytest

from strongroom.core.audit import keys
from strongroom.core.audit.verifier import verify_log
from tests.helpers.window import send

pytestmark = pytest.mark.model


def entries(home):
    return [json.loads(line) for line in home.audit_log.read_bytes().splitlines()]


def test_an_answer_is_recorded_by_keyed_digest_only(qtbot, window, home, workspace):
    key = workspace.audit.log.created_key_text
    window.record_start()
    answer = send(qtbot, window, "Is the merger confidential?")
    records = entries(home)
    events = [e["event"] for e in records]
    assert events[:1] == ["audit_created"] and "app_start" in events and "model_load" in events
    started, finished = records[-2:]
    assert (started["event"], finished["event"]) == ("inference_started", "inference")
    assert finished["started_seq"] == started["seq"] and finished["details"]["outcome"] == "answered"
    epoch_key = keys.evolve(keys.key_from_text(key))
    assert finished["prompt_hash"] == keys.keyed_digest(epoch_key, "Is the merger confidential?")
    assert finished["details"]["response_digest"] == keys.keyed_digest(epoch_key, answer.text)
    assert finished["response_tokens"] == answer.stats.completion_tokens
    assert finished["model_id"] == "SmolLM2-135M-Instruct"
    assert started["details"]["model_sha256"] == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert "merger" not in home.audit_log.read_text()  # no text unless the setting says so
    window.close()
    assert entries(home)[-1]["event"] == "app_stop"
    assert verify_log(home.audit_log, key).ok


def test_text_is_recorded_only_when_the_setting_is_on_and_only_the_auditor_reads_it(
        qtbot, window, home, workspace):
    from strongroom.core.audit.sealed_text import unseal

    root = keys.key_from_text(workspace.audit.log.created_key_text)
    window.apply_settings({"audit_log_text": True})
    answer = send(qtbot, window, "Patient note: record me")
    records = entries(home)
    assert records[-3]["event"] == "settings_change"
    assert records[-3]["details"]["changed"]["audit_log_text"] == {"from": False, "to": True}
    assert unseal(root, records[-2]["details"]["prompt_sealed"]) == "Patient note: record me"
    assert unseal(root, records[-1]["details"]["response_sealed"]) == answer.text
    assert "record me" not in home.audit_log.read_text()  # sealed, not written readable


def test_settings_exports_and_blocked_connections_are_recorded(qtbot, window, home, tmp_path):
    window.apply_settings({"temperature": 0.2, "system_prompt": "Secret instructions"})
    send(qtbot, window, "Hi.")
    window.dialogs.export_conversation(tmp_path / "c.json", "json")
    window.blocked.blocked.emit("socket.connect", "203.0.113.7:443")
    records = entries(home)
    change = next(e for e in records if e["event"] == "settings_change")
    assert change["details"]["changed"]["temperature"] == {"from": 0.0, "to": 0.2}
    assert change["details"]["changed"]["system_prompt"]["changed"] is True
    assert "Secret instructions" not in home.audit_log.read_text()
    export = next(e for e in records if e["event"] == "chat_export")
    assert export["details"]["format"] == "json" and export["details"]["file"].endswith("c.json")
    assert records[-1]["event"] == "egress_blocked"
    assert records[-1]["details"]["destination"] == "203.0.113.7:443"
    assert "blocked 1 connection attempt" in window.status.offline_label.text()


def test_no_answer_without_an_audit_log(qtbot, window, home):
    """Fail closed: when the log cannot be written, nothing is answered."""
    window.audit.mark_broken("The audit log cannot be written (simulated disk failure).")
    window.input.setPlainText("Answer me anyway")
    window.send()
    assert "simulated disk failure" in window.notice.text
    assert not window.generating
    assert window.chats.conversations() == []
