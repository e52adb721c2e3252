"""Where a growing Markdown text can be split so its settled part need not be re-rendered.

While an answer streams, re-rendering all of it for every new batch of tokens costs time
that grows with the answer and is taken from the model's threads. Blocks that ended with
a blank line outside a code fence will render the same whatever follows, so the view
renders them once and re-renders only the open tail.

A long code block would keep the tail growing until its fence closes, so inside a fence
every `CODE_LINES_PER_PIECE` lines settle too; `settled_in` then holds the fence's opening
line, for the view to close the piece and open the rest the same way.
"""

from __future__ import annotations

_FENCES = ("```", "~~~")
CODE_LINES_PER_PIECE = 12


class MarkdownSplitter:
    """Tracks the end of the settled blocks of a text that only ever grows."""

    def __init__(self) -> None:
        self.text = ""
        self.settled = 0  # text[:settled] is complete blocks
        self._scanned = 0  # lines before this offset have been examined
        self._fence: str | None = None
        self._opening: str | None = None  # the open fence's first line ("```python")
        self._code_lines = 0  # lines of the open fence not settled yet
        self.settled_in: str | None = None  # the fence text[:settled] ends inside, if any

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
                    self._fence = self._opening = None
                else:
                    self._code_lines += 1
                    if self._code_lines >= CODE_LINES_PER_PIECE:
                        self.settled, self.settled_in = self._scanned, self._opening
                        self._code_lines = 0
            elif line.startswith(_FENCES):
                self._fence, self._opening, self._code_lines = line[:3], line, 0
            elif not line:
                self.settled, self.settled_in = self._scanned, None
