"""The menu of one message in the conversation, for the keyboard (the menu key or
Shift+F10) as for the mouse: Copy (the selection, or the whole message), Edit and send
again (your messages), and the previous or next version where it has several."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu


def message_menu(message) -> QMenu:
    """The menu for ``message`` (a `message.MessageWidget`); its actions do what the
    message's own buttons do."""
    menu = QMenu(message)
    menu.setObjectName("messageMenu")
    selected = message.body.textCursor().selectedText().replace("\u2029", "\n")
    if selected:
        menu.addAction("&Copy the selection",
                       lambda: QGuiApplication.clipboard().setText(selected))
    menu.addAction("Copy the &whole message" if selected else "&Copy", message.copy_to_clipboard)
    if message.edit_button is not None and not message.edit_button.isHidden():
        menu.addAction("&Edit and send again", message.editRequested.emit)
    if message.has_versions():
        previous = menu.addAction("&Previous version\tAlt+Left",
                                  lambda: message.alternativeRequested.emit(-1))
        previous.setEnabled(message.can_step(-1))
        following = menu.addAction("&Next version\tAlt+Right",
                                   lambda: message.alternativeRequested.emit(+1))
        following.setEnabled(message.can_step(+1))
    return menu
