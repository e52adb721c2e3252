"""Exporting a conversation as Markdown (for people) or JSON (for programs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from strongroom import __version__
from strongroom.core.atomic import write_atomic
from strongroom.core.audit.events import Auditor
from strongroom.core.chats.conversation_store import (
    Conversation,
    ConversationStore,
    Message,
)

_ROLE_HEADINGS = {"system": "System", "user": "You", "assistant": "Assistant"}


def to_markdown(conversation: Conversation, messages: Sequence[Message]) -> str:
    lines = [f"# {conversation.title}", "", f"_Started {conversation.created_at} (UTC)._", ""]
    for message in messages:
        heading = _ROLE_HEADINGS.get(message.role, message.role.title())
        if message.role == "assistant" and message.model:
            heading += f" ({message.model})"
        lines += [f"## {heading}", "", message.content.rstrip(), ""]
        lines += _sources_markdown(message)
    return "\n".join(lines)


def _sources_markdown(message: Message) -> list[str]:
    """An answer's sources, as the window lists them, with each passage quoted."""
    sources = (message.stats or {}).get("sources")
    if not isinstance(sources, list) or not sources:
        return []
    lines = ["**Sources**", ""]
    for source in sources:
        if not isinstance(source, dict):
            continue
        lines.append(f"{source.get('number')}. {source.get('document')}, {source.get('place')} "
                     f"(SHA-256 {source.get('sha256')}, passage {source.get('chunk')})")
        lines += ["", *[f"   > {line}" for line in str(source.get("text", "")).splitlines()], ""]
    return lines


def to_json(conversation: Conversation, messages: Sequence[Message]) -> str:
    document = {
        "format": "strongroom.conversation",
        "format_version": 1,
        "exported_by": f"Strongroom {__version__}",
        "conversation": {
            "id": conversation.id,
            "title": conversation.title,
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
        },
        "messages": [
            {
                "role": m.role,
                "content": m.content,
                "created_at": m.created_at,
                **({"model": m.model} if m.model else {}),
                **({"stats": m.stats} if m.stats else {}),
            }
            for m in messages
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


FORMATS = {"md": to_markdown, "json": to_json}


def export_conversation(conversations: ConversationStore, conversation_id: int, path: Path,
                        kind: str, auditor: Auditor) -> bytes:
    """Write the conversation to ``path`` as ``kind`` ("md" or "json") and record the export.
    Raises AuditUnavailable (nothing written) or OSError (nothing recorded)."""
    auditor.require()  # an export that cannot be recorded does not happen
    conversation = conversations.conversation(conversation_id)
    data = FORMATS[kind](conversation, conversations.messages(conversation_id)).encode("utf-8")
    write_atomic(path, data)
    auditor.chat_export(path, kind, conversation_id, data)
    return data
