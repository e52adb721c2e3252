"""A cited passage, opened from an answer's sources: in its document's context (the
passages before and after it, the cited one marked) while the document is in a library, or
as the model was given it when the document is gone. Document text is inserted as plain
text, never as markup."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from strongroom.core.display import printable
from strongroom.core.documents.library import Libraries
from strongroom.core.documents.retrieval import citation_label


class PassageDialog(QDialog):
    """One cited passage, in its document's context when the library still has it."""

    def __init__(self, citation: dict, libraries: Libraries | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Source {citation_label(citation)}")
        sha256 = str(citation.get("sha256") or "")
        self.header = QLabel(printable(f"{citation.get('document')}, {citation.get('place')}\n"
                                       f"SHA-256 {sha256}", keep_newlines=True))
        self.header.setTextFormat(Qt.TextFormat.PlainText)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setAccessibleName("The passage in its document")
        self.in_context = self._show(citation, libraries)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        self.resize(640, 480)

    def _show(self, citation: dict, libraries: Libraries | None) -> bool:
        """Fill the view; True when the passage was found in its document."""
        chunk = None
        key = str(citation.get("chunk") or "")
        prefix, _, ordinal = key.partition(":")
        if libraries is not None and ordinal.isdigit():
            chunk = libraries.chunk_by_key(prefix, int(ordinal))
        cursor = QTextCursor(self.text.document())
        plain, marked = QTextCharFormat(), QTextCharFormat()
        marked.setFontWeight(QFont.Weight.Bold)
        marked.setBackground(self.palette().highlight())
        marked.setForeground(self.palette().highlightedText())
        if chunk is None:
            note = QTextCharFormat()
            note.setFontItalic(True)
            cursor.insertText("This document is no longer in a library; this is the passage as "
                              "the model was given it.\n\n", note)
            cursor.insertText(str(citation.get("text") or ""), marked)
            return False
        place = QTextCharFormat()
        place.setForeground(self.palette().placeholderText())
        marked_at = 0
        for neighbour in libraries.neighbours(chunk.document, chunk.ordinal):
            cursor.insertText(f"— {neighbour.place or 'passage'} —\n", place)
            if neighbour.ordinal == chunk.ordinal:
                marked_at = cursor.position()
            cursor.insertText(neighbour.text, marked if neighbour.ordinal == chunk.ordinal else plain)
            cursor.insertText("\n\n", plain)
        at = QTextCursor(self.text.document())
        at.setPosition(marked_at)
        self.text.setTextCursor(at)
        self.text.ensureCursorVisible()
        return True
