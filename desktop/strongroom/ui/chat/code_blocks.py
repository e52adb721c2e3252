"""Fenced code in a message: a shaded block under a header line with its language and a
Copy link, and its tokens coloured by Pygments with the theme's colours.

Works on the QTextDocument Qt made from the Markdown (`decorate_code_blocks`), so the
message stays Markdown only; nothing here renders HTML. Only a lexer named by the fence
is used (guessing one costs more than the highlighting).

Lexing is what costs (Pygments takes about 0.2 ms a line), so `Highlighter` colours a
block at once only when it is short or was coloured before (results are kept by text),
and otherwise a few milliseconds at a time between other events: a long block written by
a model never holds up the window. Colours go into each line's layout as extra formats,
as a syntax highlighter's do, so the document's text and formats stay as Qt made them.
Code longer than `HIGHLIGHT_LIMIT` characters is shaded but not coloured.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from pygments.lexers import get_lexer_by_name
from pygments.token import Token
from pygments.util import ClassNotFound
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import (
    QColor,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextLayout,
)

from strongroom.ui.common.theme import Palette

HIGHLIGHT_LIMIT = 20_000
AT_ONCE_LIMIT = 400  # characters of new code coloured at once (about 2 ms)
SLICE_S = 0.004  # the longest the highlighter works before letting other events run
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
    first_block: int  # the number of the document block that holds its first line

    @property
    def key(self) -> tuple[str, str]:
        return self.language.lower(), self.text


Spans = list[tuple[int, int, str]]  # (column, length, colour name) in one line
_coloured: OrderedDict[tuple[str, str], list[Spans]] = OrderedDict()  # by (language, code)
_COLOURED_KEPT = 256


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


def _code_runs(document: QTextDocument, from_block: int = 0) -> list[tuple[int, int, str]]:
    """(first block number, last block number, language) of each fenced code block from
    block ``from_block`` on."""
    runs: list[tuple[int, int, str]] = []
    block = document.findBlockByNumber(from_block)
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


def decorate_code_blocks(document: QTextDocument, colours: Palette, from_block: int = 0,
                         first_index: int = 0, continues: bool = False) -> list[CodeBlock]:
    """Shade and label the fenced code blocks of ``document`` from block ``from_block`` on
    (those before were done already, ``first_index`` of them); return them in order (the
    Copy links name them by index). ``continues``: the first is the rest of a block shown
    before it, so it gets no header line (and no index of its own)."""
    runs = _code_runs(document, from_block)
    continues = continues and bool(runs) and runs[0][0] == from_block
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
        headed = not (continues and index == 0)
        if headed:
            _insert_header(document, text_start, language,
                           first_index + index - (1 if continues else 0), colours)
        # the header lines inserted before this block's first line: its own and those of
        # the blocks before it
        headers = index + 1 - (1 if continues else 0)
        blocks.append(CodeBlock(language, code, first + headers))
    blocks.reverse()
    return blocks


def line_spans(language: str, code: str) -> Iterator[Spans]:
    """The coloured spans of each line of ``code``, one line at a time."""
    lexer = _lexer(language)
    spans: Spans = []
    column = 0
    for token_type, value in lexer.get_tokens(code):
        name = _colour_name(token_type)
        for index, part in enumerate(value.split("\n")):
            if index:  # the token goes on to the next line
                yield spans
                spans, column = [], 0
            if name is not None and part.strip():
                spans.append((column, len(part), name))
            column += len(part)
    yield spans


def _apply(document: QTextDocument, block_number: int, spans: Spans,
           formats: dict[str, QTextCharFormat], colours: Palette) -> None:
    """Set one line's colours; the caller marks the lines it coloured for drawing, once."""
    block = document.findBlockByNumber(block_number)
    if not block.isValid():
        return
    ranges = []
    for column, length, name in spans:
        if name not in formats:
            formats[name] = QTextCharFormat()
            formats[name].setForeground(QColor(getattr(colours.syntax, name)))
        span = QTextLayout.FormatRange()
        span.start, span.length, span.format = column, length, formats[name]
        ranges.append(span)
    block.layout().setFormats(ranges)


def _redraw(document: QTextDocument, first_block: int, last_block: int) -> None:
    first, last = document.findBlockByNumber(first_block), document.findBlockByNumber(last_block)
    if first.isValid() and last.isValid():
        document.markContentsDirty(first.position(), last.position() + last.length() - first.position())


class Highlighter(QObject):
    """Colours the code blocks of one document: at once when that is quick, else in
    slices of `SLICE_S` between other events. `colour` again (the document was set anew)
    drops the work still to do for the old one."""

    def __init__(self, document: QTextDocument, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self._jobs: list[tuple[CodeBlock, Iterator[Spans], list[Spans]]] = []
        self._formats: dict[str, QTextCharFormat] = {}
        self._colours: Palette | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._work)

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def colour(self, blocks: list[CodeBlock], colours: Palette, keep_going: bool = False) -> None:
        """Colour ``blocks``; ``keep_going``: they were added to the document, whose earlier
        blocks are still being coloured."""
        if not keep_going:
            self._jobs.clear()
            self._formats = {}
        self._colours = colours
        for block in blocks:
            if len(block.text) > HIGHLIGHT_LIMIT or not block.language or _lexer(block.key[0]) is None:
                continue
            lines = _coloured.get(block.key)
            if lines is None and len(block.text) <= AT_ONCE_LIMIT:
                lines = self._remember(block, list(line_spans(*block.key)))
            if lines is not None:
                _coloured.move_to_end(block.key)
                for offset, spans in enumerate(lines):
                    _apply(self.document, block.first_block + offset, spans, self._formats, colours)
                _redraw(self.document, block.first_block, block.first_block + len(lines) - 1)
            else:
                self._jobs.append((block, line_spans(*block.key), []))
        if self._jobs and not self._timer.isActive():
            self._timer.start(0)

    @Slot()
    def _work(self) -> None:
        deadline = time.perf_counter() + SLICE_S
        while self._jobs:
            block, lines, done = self._jobs[0]
            first = len(done)
            for spans in lines:
                _apply(self.document, block.first_block + len(done), spans, self._formats,
                       self._colours)
                done.append(spans)
                if time.perf_counter() > deadline:
                    _redraw(self.document, block.first_block + first, block.first_block + len(done) - 1)
                    self._timer.start(0)
                    return
            _redraw(self.document, block.first_block + first, block.first_block + len(done) - 1)
            self._remember(block, done)
            self._jobs.pop(0)

    @staticmethod
    def _remember(block: CodeBlock, lines: list[Spans]) -> list[Spans]:
        _coloured[block.key] = lines
        while len(_coloured) > _COLOURED_KEPT:
            _coloured.popitem(last=False)
        return lines


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
