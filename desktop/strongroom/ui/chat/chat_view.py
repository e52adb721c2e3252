"""The conversation pane: messages rendered as Markdown, the streaming answer at the bottom.

Each message is a `MessageWidget` (role, Markdown body, Copy, Edit on user messages, and
‹ 2/3 › where the conversation has alternatives at that message). A streaming answer grows
in `append` and is shown in frames. While it streams, each block is appended to `body` once
it has settled (a long code block every 12 lines, shown as one block) and only the open
part is rendered again, in `tail`; `set_text` at the end appends what was still open, so
no frame costs more than the new text.

Frames come at most 60 times a second, and less often when showing one costs more: the
model's threads need the CPU, so `FramePacer` keeps the GUI thread's share of a core
under a small budget (laying out a long word-wrapped answer takes milliseconds).
"""

from __future__ import annotations

import html

import time

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QGuiApplication, QTextCharFormat, QTextCursor, QTextDocument, QTextDocumentFragment
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.chats.markdown_stream import MarkdownSplitter
from strongroom.ui.common import theme
from strongroom.ui.chat.code_blocks import COPY_SCHEME, CodeBlock, Highlighter, decorate_code_blocks
from strongroom.ui.chat.message_menu import message_menu
from strongroom.ui.chat.sources_view import SourcesView

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


class FramePacer:
    """Spaces frames so the GUI thread uses at most `BUDGET` of one CPU core for them."""

    BUDGET = 0.025
    FASTEST = 1 / 60
    SLOWEST = 0.25

    def __init__(self) -> None:
        self.interval = self.FASTEST
        self._last_wall: float | None = None
        self._last_cpu = 0.0

    def wait_ms(self) -> int:
        """How long to wait before the next frame may be shown."""
        if self._last_wall is None:
            return 0
        return max(0, int((self._last_wall + self.interval - time.monotonic()) * 1000))

    def frame_shown(self, other_work: float = 0.0) -> None:
        """Call when a frame is shown, with the CPU seconds this thread spent since the last
        frame on work that is not showing frames; the rest is what the last frame cost
        (mostly layout and paint, which Qt does after the frame's slot returns)."""
        wall, cpu = time.monotonic(), time.thread_time()
        if self._last_wall is not None:
            cost = max(cpu - self._last_cpu - other_work, 0.0)
            self.interval = min(max(cost / self.BUDGET, self.FASTEST), self.SLOWEST)
        self._last_wall, self._last_cpu = wall, cpu


class MessageWidget(QFrame):
    """One message.

    Signals:
        editRequested(): the user wants to edit and resend this message.
        alternativeRequested(int): show the previous (-1) or next (+1) alternative here.
        sourceRequested(object): open a source of this answer (its citation dict).
    """

    editRequested = Signal()
    alternativeRequested = Signal(int)
    sourceRequested = Signal(object)

    def __init__(self, role: str, text: str = "", detail: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.role = role
        self._text = text
        self.stopped = False  # an answer the user stopped (it can be continued)
        self.setObjectName(f"message-{role}")
        self.setFrameShape(QFrame.Shape.StyledPanel)

        self.title = QLabel(ROLE_TITLES.get(role, role.title()))
        self.title.setObjectName("messageRole")
        self.detail = QLabel(detail)
        self.detail.setObjectName("messageDetail")
        self.copy_button = self._flat_button("Copy", "Copy this message as Markdown text")
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.edit_button: QPushButton | None = None  # user messages only
        if role == "user":
            self.edit_button = self._flat_button("Edit", "Edit this message and send it again "
                                                 "from here (Ctrl+E for your last one)")
            self.edit_button.clicked.connect(self.editRequested)
        # ‹ n/m ›, made the first time this message has alternatives (most never do)
        self.previous_button: QPushButton | None = None
        self.next_button: QPushButton | None = None
        self.alternative_label: QLabel | None = None
        self._alternative = (0, 1)
        self._interactive = True

        self._header = header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.detail, 1)
        if self.edit_button is not None:
            header.addWidget(self.edit_button)
        header.addWidget(self.copy_button)

        self.body = MarkdownView()
        self.tail: MarkdownView | None = None  # made when the message starts streaming
        self._splitter: MarkdownSplitter | None = None
        self._shown_settled = 0
        self._shown_in: str | None = None  # the code fence the shown settled part ends inside
        self._pacer = FramePacer()
        self._append_cpu = 0.0
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._show_frame)

        self.sources: SourcesView | None = None  # an answer drawn from a library's passages

        self._layout = layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self._render()

    def show_sources(self, sources: dict | None) -> None:
        """List the passages the answer was given (numbered as it cites them); ``sources``
        is {"sources": [citation…], "searched_in": where, "searched": count} or None."""
        if self.sources is not None:
            self.sources.deleteLater()
            self.sources = None
        if sources and sources.get("sources"):
            self.sources = SourcesView(sources["sources"], sources.get("searched_in"),
                                       sources.get("searched") or 0,
                                       sources.get("unknown_citations"), self)
            self.sources.sourceRequested.connect(self.sourceRequested)
            self._layout.addWidget(self.sources)

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        """Show ``text``. The text an answer streamed stays as it was drawn: only what was
        still open goes into the settled part (rendering it all again would hold up the
        window for as long as the answer is long)."""
        self._frame_timer.stop()
        streamed = self._splitter is not None and self._shown_settled >= 0 and text == self._text
        self._splitter = None
        if self.tail is not None:
            self.tail.hide()
        if streamed:
            self.body.append_markdown(_reopening(self._shown_in) + text[self._shown_settled:],
                                      continues_code=self._shown_in is not None)
            self.body.show()
        else:
            self._text = text
            self._render()

    def append(self, text: str) -> None:
        """Add streamed text; it appears at the next frame."""
        started = time.thread_time()
        if self._splitter is None:
            self._splitter = MarkdownSplitter()
            self._splitter.feed(self._text)
            self._shown_settled = -1
            if self.tail is None:
                self.tail = MarkdownView()
                self.layout().addWidget(self.tail)
            self.tail.show()
        self._splitter.feed(text)
        self._text = self._splitter.text
        self._append_cpu += time.thread_time() - started
        if not self._frame_timer.isActive():
            wait = self._pacer.wait_ms()
            if wait:
                self._frame_timer.start(wait)
            else:
                self._show_frame()

    @Slot()
    def _show_frame(self) -> None:
        if self._splitter is None:
            return
        settled, inside = self._splitter.settled, self._splitter.settled_in
        if self._shown_settled < 0:  # the first frame: what was there before, settled
            self.body.set_markdown(self._text[:settled] + _closing(inside))
        elif settled != self._shown_settled:  # only the blocks that settled since
            self.body.append_markdown(
                _reopening(self._shown_in) + self._text[self._shown_settled:settled]
                + _closing(inside), continues_code=self._shown_in is not None)
        self.body.setVisible(settled > 0)
        self._shown_settled, self._shown_in = settled, inside
        self.tail.set_markdown(_reopening(inside) + self._text[settled:],
                               continues_code=inside is not None)
        self._pacer.frame_shown(self._append_cpu)
        self._append_cpu = 0.0

    def set_detail(self, detail: str) -> None:
        self.detail.setText(detail)

    @staticmethod
    def _flat_button(text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setFlat(True)
        button.setToolTip(tip)
        return button

    def show_alternative(self, index: int, count: int) -> None:
        """This message is alternative ``index`` (0-based) of ``count``; one shows nothing."""
        self._alternative = (index, count)
        if count > 1 and self.alternative_label is None:
            self._make_alternative_controls()
        if self.alternative_label is None:
            return
        for widget in (self.previous_button, self.alternative_label, self.next_button):
            widget.setVisible(count > 1)
        self.alternative_label.setText(f"{index + 1}/{count}")
        self.alternative_label.setAccessibleName(f"Version {index + 1} of {count}")
        self.set_interactive(self._interactive)

    def _make_alternative_controls(self) -> None:
        self.previous_button = self._flat_button(
            "‹", "The previous version of this message and what followed it")
        self.previous_button.setAccessibleName("Previous alternative")
        self.previous_button.clicked.connect(lambda: self.alternativeRequested.emit(-1))
        self.next_button = self._flat_button(
            "›", "The next version of this message and what followed it")
        self.next_button.setAccessibleName("Next alternative")
        self.next_button.clicked.connect(lambda: self.alternativeRequested.emit(+1))
        self.alternative_label = QLabel()
        self.alternative_label.setObjectName("messageDetail")
        for offset, widget in enumerate((self.previous_button, self.alternative_label,
                                         self.next_button)):
            self._header.insertWidget(2 + offset, widget)

    def focus_stops(self) -> list[QWidget]:
        return [w for w in (self.edit_button, self.previous_button, self.next_button,
                            self.copy_button, self.body) if w is not None] + \
            (self.sources.buttons if self.sources is not None else [])

    # -- from the keyboard: the menu key or Shift+F10 anywhere in the message ---------------

    def contextMenuEvent(self, event) -> None:
        self.show_menu(event.globalPos())

    def show_menu(self, where=None) -> None:
        """The message's actions in a menu (Copy, Edit, its versions), at ``where`` (global;
        by default under the message's title, as for the menu key)."""
        menu = message_menu(self)
        menu.exec(where if where is not None else self.mapToGlobal(self.title.geometry().bottomLeft()))
        menu.deleteLater()

    def has_versions(self) -> bool:
        return self._alternative[1] > 1

    def can_step(self, step: int) -> bool:
        """Whether ‹ (-1) or › (+1) can be used now."""
        button = self.previous_button if step < 0 else self.next_button
        return self.has_versions() and button is not None and button.isEnabled()

    def set_interactive(self, enabled: bool) -> None:
        """Whether Edit and ‹ › may be used now (not while an answer is being written)."""
        self._interactive = enabled
        if self.edit_button is not None:
            self.edit_button.setVisible(enabled)
        if self.previous_button is not None:
            index, count = self._alternative
            self.previous_button.setEnabled(enabled and index > 0)
            self.next_button.setEnabled(enabled and index < count - 1)

    def restyle(self) -> None:
        """Draw again with the palette now in use (code colours are drawn into the text)."""
        if self._splitter is None:
            self._render()
        else:
            self._shown_settled = -1
            self._show_frame()

    def _render(self) -> None:
        text = with_line_breaks(self._text) if self.role == "user" else self._text
        self.body.set_markdown(text if text else "…")
        self.body.show()

    def set_editing(self, editing: bool) -> None:
        """Mark this message as the one the message box is editing (or not)."""
        self.setProperty("editing", editing)
        self.detail.setText("editing: Send asks again from here, Esc cancels" if editing else "")
        self.style().unpolish(self)
        self.style().polish(self)

    @Slot()
    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self._text)
        self.copy_button.setText("Copied")
        self.copy_button.setAccessibleName("Copied")
        QTimer.singleShot(1500, self, self._copy_done)

    @Slot()
    def _copy_done(self) -> None:
        self.copy_button.setText("Copy")
        self.copy_button.setAccessibleName("")


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
        if isinstance(message, MessageWidget):
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


def _reopening(fence: str | None) -> str:
    """The fence line that opens the rest of a code block settled in pieces."""
    return f"{fence}\n" if fence else ""


def _closing(fence: str | None) -> str:
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


class ChatView(QScrollArea):
    """A vertical list of `MessageWidget`s that keeps the newest in view while streaming.

    Signals:
        editRequested(int): edit the user message at this position.
        alternativeRequested(int, int): at this position, show the alternative one step away.
        actionRequested(str): the empty state's button: "import" or "manage".
        messagesShown(): messages were added to the view (Tab's order includes them).
        sourceRequested(object): open the passage an answer's source points at (citation).
    """

    messagesShown = Signal()
    sourceRequested = Signal(object)

    editRequested = Signal(int)
    alternativeRequested = Signal(int, int)
    actionRequested = Signal(str)

    READY = ("<h3>Everything here stays on this computer.</h3>"
             "<p>Strongroom runs the model on this machine and makes no network connections. "
             "Type a message below; Enter sends, Shift+Enter starts a new line.</p>")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # Not a Tab stop of its own (its messages are); the message box's Page Up and
        # Page Down scroll it.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        container = QWidget()
        container.setObjectName("chatContainer")
        self._layout = QVBoxLayout(container)
        self.welcome = QWidget()  # what an empty conversation shows
        self.welcome.setObjectName("welcome")
        self.welcome_text = QLabel(self.READY)
        self.welcome_text.setWordWrap(True)
        self.welcome_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome_button = QPushButton()
        self.welcome_button.hide()
        self.welcome_button.clicked.connect(lambda: self.actionRequested.emit(self._action))
        self._action = ""
        welcome_layout = QVBoxLayout(self.welcome)
        welcome_layout.addWidget(self.welcome_text)
        welcome_layout.addWidget(self.welcome_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self._layout.addWidget(self.welcome)
        self._layout.addStretch(1)
        self.setWidget(container)
        self._ready = True
        self._servers: list[str] = []  # the configured inference servers, by name
        self.messages: list[MessageWidget] = []  # those shown, the newest last
        self._older: list[tuple] = []  # (role, text, detail, stopped, sources) still to show above them
        self._alternatives: dict[int, tuple[int, int]] = {}
        self._interactive = True
        self._follow = True
        # (message, its distance from the top of the view) while older messages come in
        # above it; kept until the reader scrolls
        self._anchor: tuple[MessageWidget, int] | None = None
        self._scrolling_to_anchor = False
        self._loader = QTimer(self)
        self._loader.setSingleShot(True)
        self._loader.timeout.connect(self._show_older)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._keep_bottom_in_view)
        bar.valueChanged.connect(self._remember_position)

    def show_ready(self, ready: bool, waiting_to_promote: bool = False) -> None:
        """The empty state: how to start when a model is ready; else the one step that
        helps (import a model from a drive, or promote the one that came in)."""
        self._ready = ready
        if ready:
            self.welcome_text.setText(self._ready_text())
            self._action = ""
        elif waiting_to_promote:
            self.welcome_text.setText(
                "<h3>A model is waiting to be tested.</h3><p>New model versions are used for "
                "chat once they have passed a smoke test and been promoted.</p>")
            self.welcome_button.setText("Manage models…")
            self._action = "manage"
        else:
            self.welcome_text.setText(
                "<h3>No model is installed yet.</h3><p>Strongroom runs models only from this "
                "computer's verified store; they come in from a transfer drive.</p>")
            self.welcome_button.setText("Import a model from a drive…")
            self._action = "import"
        self.welcome_button.setVisible(not ready)

    def show_servers(self, servers: list[str]) -> None:
        """The configured inference servers (names): the empty state says where messages go."""
        self._servers = list(servers)
        if self._ready:
            self.welcome_text.setText(self._ready_text())

    def _ready_text(self) -> str:
        if not self._servers:
            return self.READY
        names = html.escape(", ".join(self._servers))
        return ("<h3>Everything here stays on this computer, but for what you send to the "
                "firm's server.</h3><p>Models on this machine make no network connections. A "
                f"model marked “on the server” is answered by the firm's inference server ({names}): "
                "your messages, and passages from your documents, go to it over TLS, and "
                "nowhere else. Type a message below; Enter sends, Shift+Enter starts a new "
                "line.</p>")

    def restyle(self) -> None:
        for widget in self.messages:
            widget.restyle()

    def clear(self) -> None:
        for widget in self.messages:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self.messages.clear()
        self._older.clear()
        self._loader.stop()
        self._alternatives = {}
        self._follow = True
        self._anchor = None
        self.welcome.show()

    # Opening a long conversation shows its newest messages at once, so it opens as fast as
    # a short one; older ones are shown above them when the reader scrolls up to them (a
    # few milliseconds' worth at a time), not while the model writes at the bottom.
    SHOWN_AT_ONCE = 24
    OLDER_SLICE_S = 0.006

    def show_conversation(self, items: list[tuple[str, str, str, bool, dict | None]],
                          alternatives: dict[int, tuple[int, int]] | None = None) -> None:
        """Show these messages ((role, text, detail, stopped, sources), oldest first) instead of
        what is shown, with ‹ n/m › where ``alternatives`` has them."""
        self.clear()
        self._alternatives = dict(alternatives or {})
        split = max(len(items) - self.SHOWN_AT_ONCE, 0)
        self._older = list(items[:split])
        for item in items[split:]:
            self._add(*item)
        self._apply_alternatives()
        self._load_older_if_near_top()

    def _load_older_if_near_top(self) -> None:
        bar = self.verticalScrollBar()
        if self._older and not self._loader.isActive() and bar.value() < bar.pageStep():
            self._loader.start(0)

    @Slot()
    def _show_older(self) -> None:
        """Show the next older messages above the others, for a few milliseconds."""
        if not self._older:
            return
        if self.messages and not self._follow:  # the reader's place stays put above it
            first = self.messages[0]
            self._anchor = (first, first.y() - self.verticalScrollBar().value())
        deadline = time.perf_counter() + self.OLDER_SLICE_S
        widgets = []
        while self._older and (not widgets or time.perf_counter() < deadline):
            widgets.insert(0, self._make(*self._older.pop()))
        for offset, widget in enumerate(widgets):
            self._layout.insertWidget(1 + offset, widget)  # after the (hidden) welcome
        self.messages[:0] = widgets
        self._apply_alternatives()
        self.messagesShown.emit()
        QTimer.singleShot(0, self._scroll_to_anchor)  # again once the new ones are laid out

    def show_all(self) -> None:
        """Show the older messages still waiting now (before anything counts positions)."""
        while self._older:
            self._show_older()

    def focused_message(self) -> MessageWidget | None:
        """The message that holds the keyboard focus, if one does."""
        focused = QApplication.focusWidget()
        return next((m for m in self.messages if focused is not None and m.isAncestorOf(focused)),
                    None)

    def message_for_versions(self) -> MessageWidget | None:
        """The message Alt+Left / Alt+Right act on: the focused one, else the last one
        that has versions."""
        focused = self.focused_message()
        if focused is not None:
            return focused
        return next((m for m in reversed(self.messages) if m.has_versions()), None)

    def focus_versions(self, position: int, step: int) -> None:
        """Give the keyboard to the message at ``position``: its ‹ or › (the way it was
        going, while it can go on), else its text."""
        if position < len(self._older):
            self.show_all()
        index = position - len(self._older)
        if not 0 <= index < len(self.messages):
            return
        message = self.messages[index]
        ahead, back = (message.next_button, message.previous_button) if step > 0 else \
            (message.previous_button, message.next_button)
        target = next((b for b in (ahead, back) if b is not None and b.isEnabled()
                       and message.has_versions()), message.body)
        target.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.ensureWidgetVisible(target)

    def focus_stops(self) -> list[QWidget]:
        """What Tab stops at in the messages, in reading order."""
        return [stop for message in self.messages for stop in message.focus_stops()]

    @Slot(int)
    def scroll_page(self, direction: int) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.value() + direction * bar.pageStep())

    def position_of(self, widget: MessageWidget) -> int:
        """The widget's message's position in the conversation."""
        return len(self._older) + self.messages.index(widget)

    def add_message(self, role: str, text: str = "", detail: str = "") -> MessageWidget:
        return self._add(role, text, detail, False)

    def _add(self, role: str, text: str, detail: str, stopped: bool,
             sources: dict | None = None) -> MessageWidget:
        widget = self._make(role, text, detail, stopped, sources)
        self.welcome.hide()
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self.messages.append(widget)
        self.messagesShown.emit()
        self._follow = True
        return widget

    def _make(self, role: str, text: str, detail: str, stopped: bool,
              sources: dict | None = None) -> MessageWidget:
        widget = MessageWidget(role, text, detail)
        widget.stopped = stopped
        widget.show_sources(sources)
        widget.sourceRequested.connect(self.sourceRequested)
        widget.set_interactive(self._interactive)
        widget.editRequested.connect(lambda: self.editRequested.emit(self.position_of(widget)))
        widget.alternativeRequested.connect(
            lambda step: self.alternativeRequested.emit(self.position_of(widget), step))
        return widget

    def remove_from(self, index: int) -> None:
        """Remove the message at position ``index`` and every one after it."""
        self.show_all()
        for widget in self.messages[index:]:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        del self.messages[index:]
        self.welcome.setVisible(not self.messages)

    def mark_editing(self, position: int | None) -> None:
        """Mark the message at ``position`` as being edited (None: none is)."""
        first = len(self._older)
        for index, widget in enumerate(self.messages):
            if widget.property("editing") or first + index == position:
                widget.set_editing(first + index == position)

    def set_editing_enabled(self, enabled: bool) -> None:
        self._interactive = enabled
        for widget in self.messages:
            widget.set_interactive(enabled)

    def show_alternatives(self, alternatives: dict[int, tuple[int, int]]) -> None:
        """{position: (index, count)} of the messages that have alternatives."""
        self._alternatives = dict(alternatives)
        self._apply_alternatives()

    def _apply_alternatives(self) -> None:
        first = len(self._older)
        for index, widget in enumerate(self.messages):
            alternative = self._alternatives.get(first + index)
            if alternative is not None or widget.alternative_label is not None:
                widget.show_alternative(*(alternative or (0, 1)))

    @Slot(int, int)
    def _keep_bottom_in_view(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)
        elif self._anchor is not None:  # older messages came in above: stay put
            self._scroll_to_anchor()
        self._load_older_if_near_top()

    @Slot()
    def _scroll_to_anchor(self) -> None:
        if self._anchor is not None and not self._follow:
            widget, offset = self._anchor
            self._scrolling_to_anchor = True
            self.verticalScrollBar().setValue(widget.y() - offset)
            self._scrolling_to_anchor = False

    @Slot(int)
    def _remember_position(self, value: int) -> None:
        if not self._scrolling_to_anchor:
            self._anchor = None  # the reader scrolled
        self._follow = value >= self.verticalScrollBar().maximum() - 4
        self._load_older_if_near_top()
