"""Fitting a conversation into the model's context window.

Policy: the system prompt and the newest message are always kept; when the whole
conversation does not fit, the oldest turns are dropped (a turn starts at a user message,
so the roles keep alternating as chat templates expect) and the caller is told how many
messages were left out so the user can be told too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from strongroom.core.errors import StrongroomError

Message = dict[str, str]


class ContextOverflowError(StrongroomError, ValueError):
    """Even the system prompt and the newest message alone do not fit."""

    def __init__(self, needed: int, available: int):
        self.needed = needed
        self.available = available
        super().__init__(
            f"Your message is too long for this model: with the system prompt it takes "
            f"{needed:,} tokens, and the model can read {available:,} before its answer. "
            "Shorten the message, or raise the context length in Settings."
        )


@dataclass(frozen=True)
class FittedPrompt:
    tokens: list[int]
    messages: list[Message]
    dropped_messages: int


def _turn_starts(history: Sequence[Message]) -> list[int]:
    """Indices where a droppable turn could begin: each user message after the first."""
    return [i for i, m in enumerate(history) if m["role"] == "user" and i > 0]


def fit_conversation(
    messages: Sequence[Message],
    tokenize: Callable[[Sequence[Message]], list[int]],
    budget: int,
) -> FittedPrompt:
    """Return the longest suffix of turns that fits in ``budget`` tokens."""
    system = [m for m in messages[:1] if m["role"] == "system"]
    history = list(messages[len(system):])
    if not history:
        raise ValueError("There is no message to answer.")

    def attempt(start: int) -> list[int]:
        return tokenize(system + history[start:])

    tokens = attempt(0)
    if len(tokens) <= budget:
        return FittedPrompt(tokens, system + history, 0)

    # Candidate start points, oldest first; the newest message is always the last resort.
    starts = _turn_starts(history) + [len(history) - 1]
    starts = sorted(set(starts))
    # Keeping more turns only ever adds tokens, so the earliest start that fits is found
    # by binary search over the candidates.
    low, high, best = 0, len(starts) - 1, None
    while low <= high:
        middle = (low + high) // 2
        candidate = attempt(starts[middle])
        if len(candidate) <= budget:
            best, high = (starts[middle], candidate), middle - 1
        else:
            low = middle + 1
    if best is None:
        raise ContextOverflowError(len(attempt(len(history) - 1)), budget)
    start, tokens = best
    return FittedPrompt(tokens, system + history[start:], start)
