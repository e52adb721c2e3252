"""The conversation pane: messages rendered as Markdown, the streaming answer at the bottom.

Each message is a `MessageWidget` (role, Markdown body, Copy, and Edit on the last user
message). The streaming answer's text grows in `append`; it is re-rendered at most once per
`textReady` batch, which the engine worker limits to one per frame.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget,
)

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System"}


class MessageWidget(QFrame):
    """One message.

    Signals:
        editRequested(): the user wants to edit and resend this message.
    """

    editRequested = Signal()

    def __init__(self, role: str, text: str = "", detail: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.role = role
        self._text = text
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

        header = QHBoxLayout()
        header.addWidget(self.title)
        header.addWidget(self.detail, 1)
        header.addWidget(self.edit_button)
        header.addWidget(self.copy_button)

        self.body = QLabel()
        self.body.setObjectName("messageBody")
        self.body.setTextFormat(Qt.TextFormat.MarkdownText)
        self.body.setWordWrap(True)
        self.body.setOpenExternalLinks(False)  # nothing leaves the machine, links included
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.body)
        self._render()

    @property
    def text(self) -> str:
        return self._text

    def set_text(self, text: str) -> None:
        self._text = text
        self._render()

    def append(self, text: str) -> None:
        self._text += text
        self._render()

    def set_detail(self, detail: str) -> None:
        self.detail.setText(detail)

    def _render(self) -> None:
        self.body.setText(self._text if self._text else "…")

    @Slot()
    def copy_to_clipboard(self) -> None:
        QGuiApplication.clipboard().setText(self._text)


class ChatView(QScrollArea):
    """A vertical list of `MessageWidget`s that keeps the newest in view while streaming."""

    editRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        container = QWidget()
        container.setObjectName("chatContainer")
        self._layout = QVBoxLayout(container)
        self._layout.addStretch(1)
        self.setWidget(container)
        self.messages: list[MessageWidget] = []
        self._follow = True
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._keep_bottom_in_view)
        bar.valueChanged.connect(self._remember_position)

    def clear(self) -> None:
        for widget in self.messages:
            self._layout.removeWidget(widget)
            widget.deleteLater()
        self.messages.clear()
        self._follow = True

    def add_message(self, role: str, text: str = "", detail: str = "") -> MessageWidget:
        widget = MessageWidget(role, text, detail)
        widget.editRequested.connect(self.editRequested)
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
        self._update_edit_buttons()

    def set_editing_enabled(self, enabled: bool) -> None:
        self._editing_enabled = enabled
        self._update_edit_buttons()

    def _update_edit_buttons(self) -> None:
        enabled = getattr(self, "_editing_enabled", True)
        last_user = max((i for i, m in enumerate(self.messages) if m.role == "user"), default=-1)
        for index, widget in enumerate(self.messages):
            widget.edit_button.setVisible(enabled and index == last_user)

    @Slot(int, int)
    def _keep_bottom_in_view(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    @Slot(int)
    def _remember_position(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 4
