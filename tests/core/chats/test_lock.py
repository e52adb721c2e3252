"""Locking the conversations: closed while locked, open again only with the stored key
after a login, or with the recovery key; each step in the audit log."""

from __future__ import annotations

import pytest

from strongroom.core.audit.events import Auditor
from strongroom.core.chats.database import ConversationsClosed
from strongroom.core.chats.database_key import KEY_RECORD, DatabaseKeys, recovery_text
from strongroom.core.chats.lock import BY_PASSWORD, BY_RECOVERY_KEY, ConversationsLock, UnlockRefused
from tests.helpers.audit_logs import entries_of


@pytest.fixture
def chats(workspace):
    conversation = workspace.chats.create_conversation()
    workspace.chats.add_message(conversation.id, "user", "privileged matter")
    return workspace.chats, conversation.id


@pytest.fixture
def lock(workspace):
    return ConversationsLock(workspace.chats, workspace.secrets, workspace.audit)


def lock_events(home):
    return [e["details"] for e in entries_of(home.audit_log) if e["event"] == "conversations_lock"]


def test_locked_conversations_refuse_every_use_until_unlocked(chats, lock, home):
    store, conversation_id = chats
    lock.lock("asked")
    assert lock.locked
    for use in (store.conversations, lambda: store.messages(conversation_id),
                lambda: store.add_message(conversation_id, "user", "more"),
                lambda: store.conversations("privileged")):
        with pytest.raises(ConversationsClosed, match=r"closed \(Strongroom is locked\); unlock it"):
            use()
    lock.unlock_after_login()
    assert not lock.locked
    assert [m.content for m in store.messages(conversation_id)] == ["privileged matter"]
    assert [(e["action"], e.get("method")) for e in lock_events(home)] == [
        ("locked", None), ("unlocked", BY_PASSWORD)]


def test_locking_twice_is_one_lock(chats, lock, home):
    lock.lock("asked")
    lock.lock("5 minutes idle")
    assert [e["action"] for e in lock_events(home)] == ["locked"]


def test_the_recovery_key_unlocks(chats, lock, workspace, home):
    store, conversation_id = chats
    key = DatabaseKeys(workspace.secrets).current()
    lock.lock("asked")
    lock.unlock_with_recovery_key(recovery_text(key).lower().replace("-", " "))
    assert len(store.messages(conversation_id)) == 1
    assert lock_events(home)[-1] == {"action": "unlocked", "method": BY_RECOVERY_KEY}


def test_another_recovery_key_is_refused_and_stays_locked(chats, lock, home):
    lock.lock("asked")
    with pytest.raises(UnlockRefused, match="does not open these conversations"):
        lock.unlock_with_recovery_key(recovery_text(bytes(32)))
    assert lock.locked
    with pytest.raises(UnlockRefused, match="recovery key"):
        lock.unlock_with_recovery_key("let me in")
    assert lock.locked
    assert [(e["action"], e.get("reason")) for e in lock_events(home)[1:]] == [
        ("unlock refused", "key does not open the conversations"),
        ("unlock refused", "not a recovery key")]


def test_a_key_gone_from_the_keyring_sends_the_user_to_the_recovery_key(chats, lock, workspace):
    store, conversation_id = chats
    key = DatabaseKeys(workspace.secrets).current()
    lock.lock("asked")
    workspace.secrets.delete(KEY_RECORD)
    with pytest.raises(UnlockRefused, match=r"password is right.*Unlock with the conversations' recovery key"):
        lock.unlock_after_login()
    assert lock.locked
    lock.unlock_with_recovery_key(recovery_text(key))
    assert len(store.messages(conversation_id)) == 1


def test_locking_does_not_wait_on_a_broken_audit_log(chats, workspace):
    store, _ = chats
    lock = ConversationsLock(store, workspace.secrets, Auditor(None, "The audit log is damaged."))
    lock.lock("asked")
    assert lock.locked
    lock.unlock_after_login()
    assert not lock.locked
