"""What the window shows while it is locked: that it is locked, and the two ways back in
(the person's login password, or the conversations' recovery key)."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from strongroom.core.display import printable


class LockScreen(QWidget):
    """Signals:
        passwordEntered(str): the person asks to unlock with their login password.
        recoveryKeyEntered(str): the person asks to unlock with the recovery key.
    """

    passwordEntered = Signal(str)
    recoveryKeyEntered = Signal(str)

    def __init__(self, user: str, password_possible: bool, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("lockScreen")
        self.user = user
        self.password_possible = password_possible
        self.using_password = password_possible
        title = QLabel("Strongroom is locked")
        title.setObjectName("lockTitle")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setMinimumWidth(360)
        self.field.returnPressed.connect(self._submit)
        self.show_typing = QCheckBox("Show what I type")
        self.show_typing.toggled.connect(self._show_typing)
        self.unlock_button = QPushButton("Unlock")
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self._submit)
        self.switch_button = QPushButton()
        self.switch_button.setFlat(True)
        self.switch_button.clicked.connect(self._switch)
        self.switch_button.setVisible(password_possible)
        self.problem = QLabel()
        self.problem.setObjectName("lockProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()

        column = QVBoxLayout()
        for widget in (title, self.reason, self.prompt, self.field, self.show_typing,
                       self.unlock_button, self.problem, self.switch_button):
            column.addWidget(widget)
        holder = QWidget()
        holder.setFixedWidth(480)
        holder.setLayout(column)
        row = QHBoxLayout()  # stretches, not an alignment: wrapped lines then get their height
        row.addStretch(1)
        row.addWidget(holder)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        self._show_mode()

    def reset(self, reason: str) -> None:
        """Shown afresh each time the window locks."""
        self.reason.setText(f"{reason} Your conversations are closed and nothing of them is "
                            "on screen until you unlock.")
        self.using_password = self.password_possible
        self.set_checking(False)
        self.problem.hide()
        self._show_mode()

    def set_checking(self, checking: bool) -> None:
        self.field.setEnabled(not checking)
        self.unlock_button.setEnabled(not checking)
        self.unlock_button.setText("Checking…" if checking else "Unlock")
        if not checking:
            self.field.setFocus()

    def show_refused(self, message: str) -> None:
        """A refusal: a recovery key stays typed, selected, so one typo can be fixed; a
        password is cleared, as sign-in screens do."""
        self.set_checking(False)
        self.problem.setText(message)
        self.problem.show()
        if self.using_password:
            self.field.clear()
        self.field.selectAll()

    def forget_typed(self) -> None:
        """Unlocked: nothing typed stays in the hidden screen."""
        self.field.clear()

    @Slot()
    def _submit(self) -> None:
        text = self.field.text()
        if not text.strip() or not self.field.isEnabled():
            return
        self.problem.hide()
        self.set_checking(True)
        if self.using_password:
            self.passwordEntered.emit(text)
        else:
            self.recoveryKeyEntered.emit(text)

    @Slot()
    def _switch(self) -> None:
        self.using_password = not self.using_password
        self.problem.hide()
        self._show_mode()

    @Slot(bool)
    def _show_typing(self, shown: bool) -> None:
        self.field.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)

    def _show_mode(self) -> None:
        self.field.clear()
        self.show_typing.setChecked(False)
        if self.using_password:
            self.prompt.setText(f"Enter the login password of <b>{html.escape(printable(self.user))}</b> "
                                "(the one you use to sign in to this computer).")
            self.field.setAccessibleName("Login password")
            self.field.setFont(QFont())
            self.switch_button.setText("Use the conversations' recovery key instead")
        else:
            self.prompt.setText("Enter the conversations' recovery key (it starts with SRCK-, "
                                "as printed or saved when the key was made).")
            self.field.setAccessibleName("Recovery key")
            self.field.setFont(QFont("monospace"))
            self.switch_button.setText("Use my login password instead")
        self.field.setFocus()
