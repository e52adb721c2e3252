"""What the window's keys do beyond what its widgets do by themselves: the menu of whatever
has the keyboard (Shift+F10, as the menu key), a message's versions (Alt+Left/Right),
copying the last answer, search (Ctrl+F), the model list (Ctrl+M) and folding the
conversations away (Ctrl+B). A part of the main window kept in its own file
(`MainWindow.keys`); the menus bind the keys to it."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication


class KeyboardActions(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window

    @Slot()
    def show_context_menu(self) -> None:
        """Shift+F10: the menu of whatever has the keyboard, as the menu key opens it (X11
        sends no menu for Shift+F10 by itself)."""
        widget = QApplication.focusWidget()
        if widget is None or not self.window_.isAncestorOf(widget):
            return
        if isinstance(widget, QAbstractScrollArea):  # text views: at the text cursor
            point = widget.viewport().mapTo(widget, widget.cursorRect().bottomLeft()) \
                if hasattr(widget, "cursorRect") else widget.rect().center()
        else:
            point = widget.rect().center()
        QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Keyboard, point,
                                                         widget.mapToGlobal(point)))

    def show_version(self, step: int) -> None:
        """Alt+Left / Alt+Right: the previous (-1) or next (+1) version of the message with
        the keyboard focus, or else of the last message that has versions."""
        message = self.window_.chat_view.message_for_versions()
        if message is not None and message.can_step(step):
            self.window_.answers.switch_alternative(self.window_.chat_view.position_of(message), step)

    @Slot()
    def copy_last_answer(self) -> None:
        answers = [w for w in self.window_.chat_view.messages if w.role == "assistant"]
        if answers:
            answers[-1].copy_to_clipboard()

    @Slot(bool)
    def show_sidebar(self, shown: bool) -> None:
        """Show or hide the conversation list (the chat takes its room)."""
        had_focus = self.window_.conversations.isAncestorOf(QApplication.focusWidget())
        self.window_.conversations.setVisible(shown)
        self.window_.sidebar_action.setChecked(shown)
        if not shown and had_focus:
            self.window_.input.setFocus()

    def focus_search(self) -> None:
        self.show_sidebar(True)
        self.window_.conversations.search_box.setFocus()
        self.window_.conversations.search_box.selectAll()

    def focus_model_picker(self) -> None:
        if not self.window_.model_picker.isEnabled() or self.window_.model_picker.count() == 0:
            # An empty, disabled list would only hold the keyboard: say what helps instead.
            self.window_.show_notice("There is no model to choose yet: Model → Import from a drive… "
                             "(Ctrl+I) brings one in.", "info", until=self.window_.catalogShown)
            self.window_.input.setFocus()
            return
        self.window_.model_picker.setFocus()
        self.window_.model_picker.showPopup()
