"""Where a growing Markdown text can be split so its settled part need not be re-rendered.

While an answer streams, re-rendering all of it for every new batch of tokens costs time
that grows with the answer and is taken from the model's threads. Blocks that ended with
a blank line outside a code fence will render the same whatever follows, so the view
renders them once and re-renders only the open tail.
"""

from __future__ import annotations

_FENCES = ("```", "~~~")


class MarkdownSplitter:
    """Tracks the end of the settled blocks of a text that only ever grows."""

    def __init__(self) -> None:
        self.text = ""
        self.settled = 0  # text[:settled] is complete blocks
        self._scanned = 0  # lines before this offset have been examined
        self._fence: str | None = None

    def feed(self, piece: str) -> int:
        """Append ``piece``; return the length of the settled prefix."""
        self.text += piece
        while True:
            end = self.text.find("\n", self._scanned)
            if end < 0:
                return self.settled
            line = self.text[self._scanned:end].strip()
            self._scanned = end + 1
            if self._fence is not None:
                if line.startswith(self._fence):
                    self._fence = None
            elif line.startswith(_FENCES):
                self._fence = line[:3]
            elif not line:
                self.settled = self._scanned
