"""Fenced code in a message: a shaded block under a header line with its language and a
Copy link, and its tokens coloured by Pygments with the theme's colours.

Works on the QTextDocument Qt made from the Markdown (`decorate_code_blocks`), so the
message stays Markdown only; nothing here renders HTML. Only a lexer named by the fence
is used (guessing one costs more than the highlighting), and code longer than
`HIGHLIGHT_LIMIT` characters is shaded but not coloured, so a huge block written by a model
cannot stall the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from PySide6.QtGui import QColor, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat
from pygments.lexers import get_lexer_by_name
from pygments.token import Token
from pygments.util import ClassNotFound

from strongroom.ui.theme import Palette

HIGHLIGHT_LIMIT = 20_000
COPY_SCHEME = "copy-code"  # the Copy link's address: copy-code:<index of the block>

_TOKEN_COLOURS = (  # most specific first
    (Token.Comment, "comment"), (Token.Literal.String, "string"),
    (Token.Literal.Number, "number"), (Token.Name.Decorator, "decorator"),
    (Token.Name.Builtin, "builtin"), (Token.Name.Function, "function"),
    (Token.Name.Class, "type"), (Token.Keyword.Type, "type"), (Token.Keyword, "keyword"),
    (Token.Operator.Word, "keyword"), (Token.Name.Exception, "type"), (Token.Error, "error"),
)


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str


@lru_cache(maxsize=64)
def _lexer(language: str):
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=256)
def _colour_name(token_type) -> str | None:
    for family, name in _TOKEN_COLOURS:
        if token_type in family:
            return name
    return None


def _code_runs(document: QTextDocument) -> list[tuple[int, int, str]]:
    """(first block number, last block number, language) of each fenced code block."""
    runs: list[tuple[int, int, str]] = []
    block = document.begin()
    fence = QTextFormat.Property.BlockCodeFence
    language = QTextFormat.Property.BlockCodeLanguage
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(fence):
            name = fmt.stringProperty(language)
            if runs and runs[-1][1] == block.blockNumber() - 1 and runs[-1][2] == name:
                runs[-1] = (runs[-1][0], block.blockNumber(), name)
            else:
                runs.append((block.blockNumber(), block.blockNumber(), name))
        block = block.next()
    return runs


def decorate_code_blocks(document: QTextDocument, colours: Palette) -> list[CodeBlock]:
    """Shade, label and colour every fenced code block of ``document``; return the blocks
    in order (the Copy links name them by index)."""
    runs = _code_runs(document)
    blocks: list[CodeBlock] = []
    shade = QTextBlockFormat()
    shade.setBackground(QColor(colours.code))
    shade.setLeftMargin(6)
    shade.setRightMargin(6)
    # Last to first: adding the header lines moves the blocks after them.
    for index in range(len(runs) - 1, -1, -1):
        first, last, language = runs[index]
        start = document.findBlockByNumber(first)
        end = document.findBlockByNumber(last)
        text_start, text_end = start.position(), end.position() + end.length() - 1
        cursor = QTextCursor(document)
        cursor.setPosition(text_start)
        cursor.setPosition(text_end, QTextCursor.MoveMode.KeepAnchor)
        code = cursor.selection().toPlainText()
        cursor.mergeBlockFormat(shade)
        _colour_tokens(document, text_start, code, language, colours)
        _insert_header(document, text_start, language, index, colours)
        blocks.append(CodeBlock(language, code))
    blocks.reverse()
    return blocks


def _colour_tokens(document: QTextDocument, start: int, code: str, language: str,
                   colours: Palette) -> None:
    lexer = _lexer(language.lower()) if language else None
    if lexer is None or len(code) > HIGHLIGHT_LIMIT:
        return
    formats: dict[str, QTextCharFormat] = {}
    cursor = QTextCursor(document)
    position = start
    for token_type, value in lexer.get_tokens(code):
        name = _colour_name(token_type)
        if name is not None and value.strip():
            if name not in formats:
                fmt = QTextCharFormat()
                fmt.setForeground(QColor(getattr(colours.syntax, name)))
                formats[name] = fmt
            cursor.setPosition(position)
            cursor.setPosition(position + len(value), QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(formats[name])
        position += len(value)


def _insert_header(document: QTextDocument, position: int, language: str, index: int,
                   colours: Palette) -> None:
    """A line above the block at ``position``: its language, then a Copy link."""
    cursor = QTextCursor(document)
    cursor.setPosition(position)
    code_format = cursor.blockFormat()
    cursor.insertBlock(code_format)  # the code moves down; the emptied line is the header
    cursor.movePosition(QTextCursor.MoveOperation.PreviousBlock)
    header = QTextBlockFormat()
    header.setBackground(QColor(colours.code))
    header.setLeftMargin(6)
    header.setRightMargin(6)
    header.setTopMargin(4)
    cursor.setBlockFormat(header)
    label = QTextCharFormat()
    label.setForeground(QColor(colours.code_label))
    label.setFontPointSize(max(document.defaultFont().pointSizeF() - 1, 6))
    cursor.insertText(f"{language or 'code'}    ", label)
    link = QTextCharFormat(label)
    link.setAnchor(True)
    link.setAnchorHref(f"{COPY_SCHEME}:{index}")
    link.setForeground(QColor(colours.link))
    link.setFontUnderline(True)
    cursor.insertText("Copy", link)
