"""An audit entry in words, for the auditor reading it: what happened, when, by whom, and
its details as short labelled lines. The recorded entry stays the authority; this only
reads it (a hostile log's text is made printable by the caller)."""

from __future__ import annotations

from datetime import datetime, timezone

from strongroom.core.audit import format as fmt

# Fields that prove the entry (shown with the recorded entry, not in words) and fields
# that hold digests or sealed text (named, not spelled out).
_PROOF = {"prev_hash", fmt.HASH_FIELD, fmt.MAC_FIELD, fmt.EPOCH_FIELD, "seq"}
_LABELS = {
    "model_id": "model", "response_tokens": "answer tokens", "latency_ms": "time taken (ms)",
    "prompt_hash": "prompt (digest)", "response_hash": "answer (digest)",
    "prompt_tokens": "prompt tokens", "completion_tokens": "answer tokens",
    "started_seq": "answer started as entry", "key_fingerprint": "verification key fingerprint",
    "first_seq": "first entry sealed", "last_seq": "last entry sealed",
    "seal": "seal (HMAC of the day's entries)", "prompt_sealed": "prompt text (sealed)",
    "response_sealed": "answer text (sealed)", "epoch": "day's key number",
}
_HIDDEN_DETAILS = {"epoch_rules", "events", "unfinished", "finished_earlier", "start", "end",
                   "previous_close", "text_key"}


def when(timestamp: object) -> str:
    """'2026-12-08 10:03:12 UTC' (or the recorded text, when it is not a time)."""
    try:
        moment = datetime.fromisoformat(str(timestamp)).astimezone(timezone.utc)
    except ValueError:
        return str(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def event_in_words(event: object) -> str:
    """'answer finished' rather than 'inference'; an unknown name as it is."""
    if not isinstance(event, str):
        return "answer (reference logger's form)" if event is None else str(event)
    return fmt.EVENTS.get(event, event)


def entry_in_words(entry: dict) -> list[str]:
    """The entry as lines for people: the event, when and by whom, then its facts."""
    event = entry.get("event")
    if event is None and "prompt_hash" in entry:
        event = None  # the reference logger's inference entry
    lines = [f"{event_in_words(event).capitalize()}, {when(entry.get('timestamp'))}, "
             f"by {entry.get('user_id', 'an unknown user')}"]
    facts = {k: v for k, v in entry.items() if k not in _PROOF | {"event", "timestamp",
                                                                   "user_id", "details"}}
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    facts.update({k: v for k, v in details.items() if k not in _HIDDEN_DETAILS})
    for name, value in facts.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        lines.append(f"  {_LABELS.get(name, name.replace('_', ' '))}: {_value(name, value)}")
    return lines


def _value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and (name.endswith("_hash") or name in ("seal",)) and len(value) == 64:
        return value[:16] + "…"
    if isinstance(value, str) and value.startswith("sealed-"):
        return "sealed: the audit verification key opens it"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_value(k, v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value(name, v) for v in value)
    return str(value)
