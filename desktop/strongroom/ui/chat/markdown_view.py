"""Showing Markdown in a message: a read-only view exactly as tall as its text, appended to
block by block while an answer streams, with code blocks coloured and copyable. HTML in a
message is shown as text, and images as their address: nothing a model writes is drawn
from this computer's files or opened."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QGuiApplication, QTextCharFormat, QTextCursor, QTextDocument, QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QSizePolicy, QTextBrowser

from strongroom.ui.chat.code_blocks import COPY_SCHEME, CodeBlock, Highlighter, decorate_code_blocks
from strongroom.ui.common import theme


class MarkdownView(QTextBrowser):
    """Read-only Markdown that is exactly as tall as its text (the chat scrolls, not it).

    A word-wrapped QLabel would do, but inside a scroll area Qt lays it out several times
    per change, and again for every other message; setting the height once per change
    costs a third as much, which matters while an answer streams.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("messageBody")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setOpenLinks(False)  # nothing leaves the machine, links included
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(2)
        self.code_blocks: list[CodeBlock] = []
        self.highlighter = Highlighter(self.document(), self)
        self.anchorClicked.connect(self._on_link)

    def set_markdown(self, text: str, continues_code: bool = False) -> None:
        """Show ``text``; ``continues_code``: it starts with the rest of a code block shown
        in another view (no header line for it)."""
        _render_markdown(self.document(), text)
        self.code_blocks = (decorate_code_blocks(self.document(), theme.current(),
                                                 continues=continues_code)
                            if "```" in text or "~~~" in text else [])
        self.highlighter.colour(self.code_blocks, theme.current())
        self._fit_height()

    def append_markdown(self, text: str, continues_code: bool = False) -> None:
        """Add complete Markdown blocks after those shown; the cost is the new text's only.
        ``continues_code``: ``text`` starts with more of the last code block shown."""
        if not text.strip():
            return
        if self.document().isEmpty():
            self.set_markdown(text)
            return
        part = QTextDocument()
        part.setDefaultFont(self.document().defaultFont())
        _render_markdown(part, text)
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        first_new = self.document().blockCount()
        # The fragment's first line goes into the block made here: give it that line's formats.
        cursor.insertBlock(part.begin().blockFormat(), part.begin().charFormat())
        cursor.insertFragment(QTextDocumentFragment(part))
        if "```" in text or "~~~" in text:
            continues_code = continues_code and bool(self.code_blocks)
            added = decorate_code_blocks(self.document(), theme.current(), first_new,
                                         len(self.code_blocks), continues_code)
            self.highlighter.colour(added, theme.current(), keep_going=True)
            if continues_code and added and added[0].first_block == first_new:
                earlier, more = self.code_blocks[-1], added.pop(0)  # one block, for Copy
                self.code_blocks[-1] = CodeBlock(earlier.language, f"{earlier.text}\n{more.text}",
                                                 earlier.first_block)
            self.code_blocks += added
        self._fit_height()

    @Slot(QUrl)
    def _on_link(self, url: QUrl) -> None:
        """Copy links of code blocks; every other link is only shown, never opened."""
        if url.scheme() == COPY_SCHEME and url.path().isdigit():
            index = int(url.path())
            if index < len(self.code_blocks):
                QGuiApplication.clipboard().setText(self.code_blocks[index].text)

    def _fit_height(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        self.setFixedHeight(int(self.document().size().height()) + 2)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def wheelEvent(self, event) -> None:
        event.ignore()  # let the conversation scroll

    def contextMenuEvent(self, event) -> None:
        """The message's own menu (with Copy of what is selected, when something is)."""
        message = self.parent()
        if hasattr(message, "show_menu"):  # a `message.MessageWidget`
            message.show_menu(event.globalPos())
        else:
            super().contextMenuEvent(event)


def with_line_breaks(text: str) -> str:
    """``text`` with each line break kept as one (Markdown would join the lines of a
    paragraph): what the person typed with Shift+Enter shows as they typed it. Code blocks
    are left as they are."""
    lines = text.split("\n")
    fenced = False
    for index, line in enumerate(lines[:-1]):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        following = lines[index + 1]
        if not fenced and line.strip() and following.strip() \
                and not following.lstrip().startswith(("```", "~~~")):
            lines[index] = line.rstrip() + "  "  # a hard line break
    return "\n".join(lines)


def reopening(fence: str | None) -> str:
    """The fence line that opens the rest of a code block settled in pieces."""
    return f"{fence}\n" if fence else ""


def closing(fence: str | None) -> str:
    return f"{fence[:3]}\n" if fence else ""


# Markdown only: HTML in a message (typed, or written by a model) is shown as text.
MARKDOWN = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
            | QTextDocument.MarkdownFeature.MarkdownNoHTML)


def _render_markdown(document: QTextDocument, text: str) -> None:
    document.setMarkdown(text, MARKDOWN)
    if "![" in text:
        _images_as_text(document)


def _images_as_text(document: QTextDocument) -> None:
    """An image in a message is shown as its address, never drawn: a model's answer
    must not display a file from this computer."""
    images = []
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().isImageFormat():
                images.append((fragment.position(), fragment.length(),
                               fragment.charFormat().toImageFormat().name()))
            fragments += 1
        block = block.next()
    cursor = QTextCursor(document)
    for position, length, name in reversed(images):
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(f"[image: {name}]", QTextCharFormat())
