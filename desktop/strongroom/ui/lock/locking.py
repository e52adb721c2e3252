"""Locking the window after the person has been away (Settings → "Lock after minutes
idle", or File → Lock now), and unlocking it.

Any key press, click, scroll or mouse move in any Strongroom window counts as being
there. An answer being written when the time comes is let finish first. Locking closes the
conversations (`core.chats.lock`), clears every title, message and draft from the screen,
closes audit viewers and leaves only the lock page and Quit; unlocking puts the same
conversation and draft back.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget

from strongroom.core import os_login
from strongroom.core.chats.database import ConversationStoreError
from strongroom.core.chats.lock import BY_PASSWORD, ConversationsLock, UnlockRefused
from strongroom.ui.common.background import Tasks
from strongroom.ui.lock.lock_screen import LockScreen

_PRESENCE = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
             QEvent.Type.Wheel, QEvent.Type.TouchBegin}
_ALWAYS_AVAILABLE = {"Quit", "Lock now"}


class IdleTimer(QObject):
    """Emits `idle` once the person has not touched keyboard or mouse for a while."""

    idle = Signal()

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)  # restarts show in remainingTime
        self._timer.timeout.connect(self.idle)
        self._watching = False

    def set_minutes(self, minutes: int) -> None:
        """0 turns it off."""
        self.set_interval_ms(minutes * 60_000)

    def set_interval_ms(self, milliseconds: int) -> None:
        self._timer.stop()
        # Every event of the app passes through the filter: only while the lock is on.
        self._watch(milliseconds > 0)
        if milliseconds > 0:
            self._timer.setInterval(milliseconds)
            self._timer.start()

    def _watch(self, on: bool) -> None:
        if on != self._watching:
            application = QApplication.instance()
            if on:
                application.installEventFilter(self)
            else:
                application.removeEventFilter(self)
            self._watching = on

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def stop(self) -> None:
        self._timer.stop()
        self._watch(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _PRESENCE and self._timer.isActive():
            self._timer.start()
        return False


class WindowLock(QObject):
    """Signals:
        locked(): the window is locked and shows only the lock page.
        unlocked(): the conversations are open again and on screen.
        refused(str): an unlock attempt failed (the message shown).
    """

    locked = Signal()
    unlocked = Signal()
    refused = Signal(str)

    def __init__(self, window: QMainWindow, lock: ConversationsLock, stack: QStackedWidget,
                 password_check=os_login.password_accepted):
        super().__init__(window)
        self.window, self.lock, self.stack = window, lock, stack
        self._check_password = password_check
        self.screen = LockScreen(os_login.user_name(), os_login.available())
        self.screen.passwordEntered.connect(self._check_login)
        self.screen.recoveryKeyEntered.connect(self._use_recovery_key)
        stack.addWidget(self.screen)
        self.idle = IdleTimer(self)
        self.idle.idle.connect(self._on_idle)
        self._minutes = 0
        self._lock_when_answered = False
        self.tasks = Tasks(self)  # the password check
        self._put_back: tuple[int | None, str] = (None, "")
        window.answerCompleted.connect(self._after_answer)
        window.answerFailed.connect(self._after_answer)

    @property
    def is_locked(self) -> bool:
        return self.lock.locked

    def set_minutes(self, minutes: int) -> None:
        self._minutes = minutes
        if not self.is_locked:
            self.idle.set_minutes(minutes)
            self.window.status.show_lock(minutes, locked=False)

    # -- locking ---------------------------------------------------------------------------

    @Slot()
    def _on_idle(self) -> None:
        if self.window.generating:
            self._lock_when_answered = True
        else:
            self.lock_now(idle=True)

    def _after_answer(self, *_outcome) -> None:
        if self._lock_when_answered:
            self.lock_now(idle=True)

    @Slot()
    def lock_now(self, idle: bool = False) -> None:
        self._lock_when_answered = False
        if self.is_locked:
            return
        w = self.window
        if w.generating:
            w.stop()
        w.answers.cancel_edit()
        self._put_back = (w.conversation_id, w.input.toPlainText())
        w.input.clear()
        w.chat_view.clear()
        w.conversations.forget()
        w.session.close_conversation()
        for viewer in w.findChildren(QMainWindow):  # audit viewers: they may show recorded text
            viewer.close()
        w.documents.close_windows()  # documents' names and passages
        self.lock.lock(f"{self._minutes} minutes idle" if idle else "asked")
        self.idle.set_minutes(0)
        self._enable_window(False)
        self.screen.reset(f"Locked after {self._minutes} minutes without use." if idle
                          else "Locked on request.")
        self.stack.setCurrentWidget(self.screen)
        w.setWindowTitle("Strongroom — locked")
        w.status.show_lock(self._minutes, locked=True)
        self.screen.field.setFocus()
        self.locked.emit()

    def _enable_window(self, enabled: bool) -> None:
        for text, action in self.window.actions_by_text.items():
            if text not in _ALWAYS_AVAILABLE:
                action.setEnabled(enabled)
        self.window.model_toolbar.setEnabled(enabled)

    # -- unlocking -------------------------------------------------------------------------

    @Slot(str)
    def _check_login(self, password: str) -> None:
        check = self._check_password
        self.tasks.call(lambda: check(password), self._on_login_checked, lambda message: self._refuse(
            f"Your password could not be checked ({message}). Use the recovery key instead."))

    @Slot(object)
    def _on_login_checked(self, accepted: bool) -> None:
        if not accepted:
            self.lock.refused(BY_PASSWORD, "password not accepted")
            self._refuse("That password was not accepted. Try again, or use the "
                         "conversations' recovery key.")
            return
        self._unlock(self.lock.unlock_after_login)

    @Slot(str)
    def _use_recovery_key(self, text: str) -> None:
        self._unlock(lambda: self.lock.unlock_with_recovery_key(text))

    def _unlock(self, open_conversations) -> None:
        try:
            open_conversations()
        except (UnlockRefused, ConversationStoreError) as error:
            self._refuse(str(error))
            return
        w = self.window
        self.screen.forget_typed()
        self._enable_window(True)
        self.stack.setCurrentIndex(0)
        w.status.show_lock(self._minutes, locked=False)
        conversation_id, draft = self._put_back
        w.conversations.refresh()
        remaining = {c.id for c in w.chats.conversations()}
        if conversation_id in remaining:
            w.conversations.select(conversation_id)
        else:
            w.setWindowTitle("Strongroom")
        w.input.setPlainText(draft)
        w.input.setFocus()
        self.idle.set_minutes(self._minutes)
        self.unlocked.emit()

    def _refuse(self, message: str) -> None:
        self.screen.show_refused(message)
        self.refused.emit(message)

    def shutdown(self) -> None:
        """The window is closing: no timer, no filter, no password check left behind."""
        self.idle.stop()
        self.tasks.stop(timeout_s=10)
