"""When this computer's key does not open the conversations at start: say why, and let the
person give the recovery key, keep the unreadable file aside and start fresh, or quit.
Nothing is reset without being asked. (Not the idle lock: that is `ui/lock`.)"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox, QWidget

from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.chats.open_conversations import recover, start_fresh
from strongroom.core.paths import app_paths, ensure_private_dir
from strongroom.core.secrets import open_secret_store


def ask_recovery_key(parent: QWidget | None, recover_with) -> bool:
    """Ask for the recovery key until ``recover_with(text)`` accepts it (True) or the person
    cancels (False). A key that is refused stays typed and selected, with the reason above
    it, so one mistyped group can be put right."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Recovery key")
    dialog.setInputMode(QInputDialog.InputMode.TextInput)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
    prompt = "The conversations' recovery key (SRCK-…):"
    dialog.setLabelText(prompt)
    while dialog.exec():
        text = dialog.textValue()
        try:
            recover_with(text)
            return True
        except (ValueError, ConversationStoreError) as error:
            dialog.setLabelText(f"Not recovered: {error}\n\n{prompt}")
            dialog.setTextValue(text)
            field = dialog.findChild(QLineEdit)
            if field is not None:
                field.selectAll()
    return False


def ask_way_forward(problem: str, parent: QWidget | None = None) -> bool:
    """True when the person did something after which opening again may work."""
    box = QMessageBox(QMessageBox.Icon.Warning, "The conversations cannot be opened", problem,
                      parent=parent)
    recover_button = box.addButton("Enter the recovery key…", QMessageBox.ButtonRole.AcceptRole)
    fresh_button = box.addButton("Keep them aside, start fresh…", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    paths = app_paths()
    ensure_private_dir(paths.config_dir)
    secrets = open_secret_store(paths.config_dir)
    if box.clickedButton() is recover_button:
        ask_recovery_key(parent, lambda text: recover(paths.conversations_db, secrets, text))
        return True
    if box.clickedButton() is fresh_button:
        sure = QMessageBox.question(
            parent, "Start fresh?",
            "The unreadable conversations are kept aside, unchanged, under a new name; with "
            "their recovery key they can still be read later. Start an empty history now?")
        if sure == QMessageBox.StandardButton.Yes:
            aside = start_fresh(paths.conversations_db, secrets)
            if aside is not None:
                QMessageBox.information(parent, "Started fresh", f"The old database is kept as "
                                        f"{aside}.")
        return True
    return False
