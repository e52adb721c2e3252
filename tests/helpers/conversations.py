"""Opening a test home's encrypted conversations the way the app does."""

from __future__ import annotations

from strongroom.core.chats.conversation_store import ConversationStore
from strongroom.core.chats.open_conversations import open_conversations
from strongroom.core.secrets import open_secret_store

KEY = bytes(range(32))  # for a store a test makes by itself


def open_home_conversations(home) -> ConversationStore:
    """The conversations of ``home`` (an AppPaths), with the key its secret store keeps."""
    return open_conversations(home.conversations_db, open_secret_store(home.config_dir)).store
