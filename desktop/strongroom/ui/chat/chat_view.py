"""The conversation pane: a column of messages (`message.MessageWidget`), the newest in
view while an answer streams at the bottom, the oldest of a long conversation shown only
when the reader scrolls up to them, and the empty state that says how to start.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from strongroom.ui.chat.message import MessageWidget


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
