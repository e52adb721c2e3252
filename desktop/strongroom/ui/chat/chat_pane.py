"""The right side of the main window: notices, the conversation, what answers draw on (a
library, and the documents attached to the conversation), and the message box with Send
(Stop while answering), Regenerate, Continue and Attach.

A widget only: the window decides what the buttons do.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from strongroom.ui.chat.chat_view import ChatView
from strongroom.ui.chat.library_picker import LibraryPicker
from strongroom.ui.chat.message_input import MessageInput
from strongroom.ui.common.notice_bar import NoticeBar


class ChatPane(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.notice = NoticeBar()
        self.chat_view = ChatView()
        self.input = MessageInput()
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.regenerate_button = QPushButton("Regenerate")
        self.regenerate_button.setToolTip("Write the last answer again; the one before is "
                                          "kept (‹ › on the answer switches) (Ctrl+R)")
        self.continue_button = QPushButton("Continue")
        self.continue_button.setToolTip("Go on writing the answer that was stopped (Ctrl+Shift+R)")
        self.continue_button.hide()
        self.editing_label = QLabel()
        self.editing_label.setObjectName("editingLabel")
        self.editing_label.hide()
        self.attach_button = QPushButton("Attach…")
        self.attach_button.setToolTip("Attach documents to this conversation: its answers "
                                      "draw on them")
        self.attachments_label = QLabel()  # the documents attached to this conversation
        self.attachments_label.setObjectName("messageDetail")
        self.attachments_label.setTextFormat(Qt.TextFormat.PlainText)
        self.attachments_label.setWordWrap(True)
        self.attachments_label.hide()  # shown while the conversation has documents attached
        self.library_picker = LibraryPicker()
        answer_from = QLabel("Answer fr&om:")
        answer_from.setBuddy(self.library_picker)

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.regenerate_button)
        buttons.addWidget(self.continue_button)
        buttons.addWidget(self.attach_button)
        buttons.addStretch(1)
        input_row = QHBoxLayout()
        input_row.addWidget(self.input, 1)
        input_row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.chat_view, 1)
        layout.addWidget(self.editing_label)
        documents_row = QHBoxLayout()
        documents_row.addWidget(answer_from)
        documents_row.addWidget(self.library_picker)
        documents_row.addWidget(self.attachments_label, 1)
        documents_row.addStretch(1)
        layout.addLayout(documents_row)
        layout.addLayout(input_row)

    def show_answering(self, answering: bool, can_send: bool, can_regenerate: bool,
                       can_continue: bool = False) -> None:
        self.send_button.setText("Stop" if answering else "Send")
        self.send_button.setToolTip("Stop the answer (Esc)" if answering else "Send the message (Enter)")
        self.send_button.setEnabled(answering or can_send)
        self.regenerate_button.setEnabled(can_regenerate)
        self.continue_button.setVisible(can_continue)
        self.chat_view.set_editing_enabled(not answering)

    def show_editing(self, text: str | None) -> None:
        """Show that the message box edits an earlier message (``text``), or that it does not."""
        self.editing_label.setVisible(text is not None)
        if text is not None:
            self.editing_label.setText(text)
