"""The notice bar above the conversation (and any pane that needs one): what went wrong,
what to do, or that something worked, coloured by which."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class NoticeBar(QFrame):
    """A dismissable line above the conversation: an "error" (red), a "warning" (amber),
    "info" (blue) or a "success" (green), each coloured by what it says. A notice about the
    conversation on screen goes when another is opened; a ``lasting`` one (the audit log
    cannot be written, no model loads) stays until it is dismissed or no longer true."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self._until = None
        self.lasting = False
        self.hide()

    def show_message(self, text: str, level: str = "error", until=None,
                     lasting: bool = False) -> None:
        """Show ``text``; with ``until`` (a signal), hide it again when that signal comes:
        a notice goes away once it is no longer true."""
        self._forget_until()
        self.lasting = lasting
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.label.setText(text)
        self.show()
        if until is not None:
            self._until = until
            until.connect(self._no_longer_true)

    @Slot()
    def _no_longer_true(self, *_args) -> None:
        self._forget_until()
        self.hide()

    def clear_for_another_conversation(self) -> None:
        """Another conversation is on screen: a notice about the last one goes, for good."""
        if not self.lasting:
            self._forget_until()
            self.label.clear()
            self.hide()

    def _forget_until(self) -> None:
        if self._until is not None:
            try:
                self._until.disconnect(self._no_longer_true)
            except (RuntimeError, TypeError):
                pass  # already gone with its sender
            self._until = None

    @property
    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
