"""Putting the passages found for a question in front of the model, numbered, so that its
answer can cite them as [1], [2].

The passages go into the system message, after the user's own system prompt: the
context-window policy always keeps the system message, so the passages are never the
part that is dropped to fit. How much of them is given is decided here, from the
model's context length, before the prompt is built: they take at most two thirds of what
is left once the answer's room is set aside (as the engine sets it: the longest answer,
at most half the context), best passages first, the last one shortened if it only partly
fits.
"""

from __future__ import annotations

from strongroom.core.documents.retrieval import Passage

INSTRUCTIONS = (
    "Answer the user's question from the numbered passages below, which come from the "
    "user's documents in the library “{library}”. After each statement, cite the passages it "
    "rests on by number in square brackets, like [1] or [2][3]. If the passages do not "
    "contain the answer, say that the documents do not say, and do not guess."
)
CHARS_PER_TOKEN = 3  # a cautious average: most text runs nearer 4 characters a token
SHORTEST_USEFUL_CHARS = 200


def passage_budget(context_length: int, answer_tokens: int) -> int:
    """How many characters of passages a prompt can hold."""
    answer_room = min(answer_tokens, context_length // 2)
    room = context_length - answer_room - 256  # the question and the template's own tokens
    return max(0, room * 2 // 3) * CHARS_PER_TOKEN


def fitting(passages: list[Passage], budget_chars: int) -> list[dict]:
    """The citations (`Passage.citation`, numbered from 1) of the passages that fit in
    ``budget_chars``; each holds the text given to the model."""
    given, left = [], budget_chars
    for passage in passages:
        text = passage.chunk.text
        if len(text) > left:
            if left < SHORTEST_USEFUL_CHARS:
                break
            text = text[:left].rsplit(" ", 1)[0] + " …"
        given.append({"number": len(given) + 1, **passage.citation, "text": text})
        left -= len(text) + 80  # and the line that says where it is from
    return given


def grounded_system(system_prompt: str, library: str, citations: list[dict]) -> str:
    """The system message: the user's system prompt, then how to use the passages, then
    the numbered passages."""
    lines = [system_prompt.strip(), ""] if system_prompt.strip() else []
    lines += [INSTRUCTIONS.format(library=library), ""]
    for citation in citations:
        lines += [f"[{citation['number']}] {citation['document']}, {citation['place']}:",
                  citation["text"], ""]
    return "\n".join(lines).rstrip()
