"""The message box: Enter sends, Shift+Enter starts a new line, Page Up and Page Down
scroll the conversation above it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QWidget


class MessageInput(QPlainTextEdit):
    """Signals:
        submitted(): Enter was pressed (without Shift).
        pageRequested(int): Page Up (-1) or Page Down (+1) was pressed.
    """

    submitted = Signal()
    pageRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setPlaceholderText("Type a message. Enter sends, Shift+Enter starts a new line.")
        self.setTabChangesFocus(True)
        self.setMinimumHeight(56)
        self.setMaximumHeight(120)
        self.setAccessibleName("Message")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        if event.key() in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.pageRequested.emit(-1 if event.key() == Qt.Key.Key_PageUp else 1)
            return
        super().keyPressEvent(event)
