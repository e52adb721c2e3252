"""The conversation pane: messages rendered as Markdown, the streaming answer at the bottom.

Each message is a `MessageWidget` (role, Markdown body, Copy, Edit on user messages, and
‹ 2/3 › where the conversation has alternatives at that message). A streaming answer grows in `append` and is shown in frames. While it streams,
the settled blocks are rendered once in `body` and only the open block is re-rendered, in
`tail`; `set_text` at the end renders the whole answer once more in `body`.

Frames come at most 60 times a second, and less often when showing one costs more: the
model's threads need the CPU, so `FramePacer` keeps the GUI thread's share of a core
under a small budget (laying out a long word-wrapped answer takes milliseconds).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QTextCharFormat, QTextCursor, QTextDocument, QGuiApplication
from PySide6.QtWidgets import (
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
from strongroom.ui import theme
from strongroom.ui.code_blocks import COPY_SCHEME, CodeBlock, decorate_code_blocks

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
    """

    editRequested = Signal()
    alternativeRequested = Signal(int)

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
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy this message as Markdown text")
        self.copy_button.setFlat(True)
        self.copy_button.clicked.connect(self.copy_to_clipboard)
        self.edit_button = QPushButton("Edit")
        self.edit_button.setToolTip("Edit this message and send it again (Ctrl+E)")
        self.edit_button.setFlat(True)
        self.edit_button.clicked.connect(self.editRequested)
        self.edit_button.setVisible(False)
        self.previous_button = QPushButton("‹")
        self.previous_button.setFlat(True)
        self.previous_button.setAccessibleName("Previous alternative")
        self.previous_button.setToolTip("The previous version of this message and what followed it")
        self.previous_button.clicked.connect(lambda: self.alternativeRequested.emit(-1))
        self.next_button = QPushButton("›")
        self.next_button.setFlat(True)
        self.next_button.setAccessibleName("Next alternative")
        self.next_button.setToolTip("The next version of this message and what followed it")
        self.next_button.clicked.connect(lambda: self.alternativeRequested.emit(+1))
        self.alternative_label = QLabel()
        self.alternative_label.setObjectName("messageDetail")
        self._switching = True
        self.show_alternative(0, 1)

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.detail, 1)
        header.addWidget(self.previous_button)
        header.addWidget(self.alternative_label)
        header.addWidget(self.next_button)
        header.addWidget(self.edit_button)
        header.addWidget(self.copy_button)

        self.body = MarkdownView()
        self.tail: MarkdownView | None = None  # made when the message starts streaming
        self._splitter: MarkdownSplitter | None = None
        self._shown_settled = 0
        self._pacer = FramePacer()
        self._append_cpu = 0.0
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._show_frame)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self._render()

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._frame_timer.stop()
        self._text = text
        self._splitter = None
        if self.tail is not None:
            self.tail.hide()
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
        settled = self._splitter.settled
        if settled != self._shown_settled:
            self.body.set_markdown(self._text[:settled])
            self.body.setVisible(settled > 0)
            self._shown_settled = settled
        self.tail.set_markdown(self._text[settled:])
        self._pacer.frame_shown(self._append_cpu)
        self._append_cpu = 0.0

    def set_detail(self, detail: str) -> None:
        self.detail.setText(detail)

    def show_alternative(self, index: int, count: int) -> None:
        """This message is alternative ``index`` (0-based) of ``count``; one shows nothing."""
        shown = count > 1
        for widget in (self.previous_button, self.alternative_label, self.next_button):
            widget.setVisible(shown)
        self.alternative_label.setText(f"{index + 1}/{count}")
        self.alternative_label.setAccessibleName(f"Version {index + 1} of {count}")
        self._alternative = (index, count)
        self.set_switching_enabled(self._switching)

    def set_switching_enabled(self, enabled: bool) -> None:
        """Whether ‹ › may be used now (not while an answer is being written)."""
        self._switching = enabled
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
        self.body.set_markdown(self._text if self._text else "…")
        self.body.show()

    @Slot()
    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self._text)


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
        self.anchorClicked.connect(self._on_link)

    # Markdown only: HTML in a message (typed, or written by a model) is shown as text.
    MARKDOWN = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
                | QTextDocument.MarkdownFeature.MarkdownNoHTML)

    def set_markdown(self, text: str) -> None:
        self.document().setMarkdown(text, self.MARKDOWN)
        if "![" in text:
            self._images_as_text()
        self.code_blocks = (decorate_code_blocks(self.document(), theme.current())
                            if "```" in text or "~~~" in text else [])
        self._fit_height()

    @Slot(QUrl)
    def _on_link(self, url: QUrl) -> None:
        """Copy links of code blocks; every other link is only shown, never opened."""
        if url.scheme() == COPY_SCHEME and url.path().isdigit():
            index = int(url.path())
            if index < len(self.code_blocks):
                QGuiApplication.clipboard().setText(self.code_blocks[index].text)

    def _images_as_text(self) -> None:
        """An image in a message is shown as its address, never drawn: a model's answer
        must not display a file from this computer."""
        document, images = self.document(), []
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

    def _fit_height(self) -> None:
        self.document().setTextWidth(self.viewport().width())
        self.setFixedHeight(int(self.document().size().height()) + 2)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def wheelEvent(self, event) -> None:
        event.ignore()  # let the conversation scroll


class ChatView(QScrollArea):
    """A vertical list of `MessageWidget`s that keeps the newest in view while streaming.

    Signals:
        editRequested(int): edit the user message at this position.
        alternativeRequested(int, int): at this position, show the alternative one step away.
        actionRequested(str): the empty state's button: "import" or "manage".
    """

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
        self.messages: list[MessageWidget] = []
        self._follow = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._keep_bottom_in_view)
        bar.valueChanged.connect(self._remember_position)

    def show_ready(self, ready: bool, waiting_to_promote: bool = False) -> None:
        """The empty state: how to start when a model is ready; else the one step that
        helps (import a model from a drive, or promote the one that came in)."""
        if ready:
            self.welcome_text.setText(self.READY)
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

    def restyle(self) -> None:
        for widget in self.messages:
            widget.restyle()

    def clear(self) -> None:
        for widget in self.messages:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self.messages.clear()
        self._follow = True
        self.welcome.show()

    def add_message(self, role: str, text: str = "", detail: str = "") -> MessageWidget:
        widget = MessageWidget(role, text, detail)
        widget.editRequested.connect(lambda: self.editRequested.emit(self.messages.index(widget)))
        widget.alternativeRequested.connect(
            lambda step: self.alternativeRequested.emit(self.messages.index(widget), step))
        self.welcome.hide()
        self._layout.insertWidget(self._layout.count() - 1, widget)
        self.messages.append(widget)
        self._follow = True
        self._update_edit_buttons()
        return widget

    def remove_from(self, index: int) -> None:
        """Remove the message at ``index`` and every one after it."""
        for widget in self.messages[index:]:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        del self.messages[index:]
        self.welcome.setVisible(not self.messages)
        self._update_edit_buttons()

    def set_editing_enabled(self, enabled: bool) -> None:
        self._editing_enabled = enabled
        self._update_edit_buttons()

    def show_alternatives(self, alternatives: dict[int, tuple[int, int]]) -> None:
        """{position: (index, count)} of the messages that have alternatives."""
        for position, widget in enumerate(self.messages):
            widget.show_alternative(*alternatives.get(position, (0, 1)))

    def _update_edit_buttons(self) -> None:
        enabled = getattr(self, "_editing_enabled", True)
        for widget in self.messages:
            widget.edit_button.setVisible(enabled and widget.role == "user")
            widget.set_switching_enabled(enabled)

    @Slot(int, int)
    def _keep_bottom_in_view(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    @Slot(int)
    def _remember_position(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 4
