"""One message in the conversation: its role, its Markdown, Copy, Edit (your messages),
‹ n/m › where it has versions, and the sources of an answer drawn from documents. A
streaming answer grows in `append` and is shown in frames: each block is appended once it
has settled (a long code block every 12 lines), and only the open part is drawn again, so
no frame costs more than the new text."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from strongroom.core.chats.markdown_stream import MarkdownSplitter
from strongroom.ui.chat.frame_pacer import FramePacer
from strongroom.ui.chat.markdown_view import MarkdownView, closing, reopening, with_line_breaks
from strongroom.ui.chat.message_menu import message_menu
from strongroom.ui.chat.sources_view import SourcesView

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


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
            self.body.append_markdown(reopening(self._shown_in) + text[self._shown_settled:],
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
            self.body.set_markdown(self._text[:settled] + closing(inside))
        elif settled != self._shown_settled:  # only the blocks that settled since
            self.body.append_markdown(
                reopening(self._shown_in) + self._text[self._shown_settled:settled]
                + closing(inside), continues_code=self._shown_in is not None)
        self.body.setVisible(settled > 0)
        self._shown_settled, self._shown_in = settled, inside
        self.tail.set_markdown(reopening(inside) + self._text[settled:],
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
