"""The conversation list: a model over the chat store, with search, new, rename in place
(F2 or double-click), delete."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.chats.conversation_store import Conversation, ConversationStore

Index = QModelIndex | QPersistentModelIndex


class ConversationListModel(QAbstractListModel):
    """Signals:
        renamed(int): a title was edited in place (the conversation's id).
    """

    IdRole = Qt.ItemDataRole.UserRole + 1
    renamed = Signal(int)

    def __init__(self, store: ConversationStore, parent=None):
        super().__init__(parent)
        self._store = store
        self._search = ""
        self._rows: list[Conversation] = []
        self.refresh()

    def set_search(self, text: str) -> None:
        self._search = text
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._rows = self._store.conversations(self._search)
        self.endResetModel()

    def forget(self) -> None:
        """Show nothing (the window locked); `refresh` reads the store again."""
        self.beginResetModel()
        self._search, self._rows = "", []
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        conversation = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return conversation.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{conversation.title}\nLast message: {conversation.updated_at[:16].replace('T', ' ')} UTC"
        if role == self.IdRole:
            return conversation.id
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsEditable if index.isValid() else flags

    def setData(self, index: Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """A title typed in place; an empty one keeps the old title."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        conversation = self._rows[index.row()]
        try:
            self._store.rename(conversation.id, str(value))
        except ValueError:
            return False
        self.renamed.emit(conversation.id)
        return True

    def row_of(self, conversation_id: int) -> int:
        return next((i for i, c in enumerate(self._rows) if c.id == conversation_id), -1)


class ConversationPanel(QWidget):
    """Signals:
        conversationSelected(int): the user opened a conversation (its id).
        newRequested(): the user wants a new conversation.
        renamed(int): a conversation was renamed (its id).
        deleting(int): a conversation is about to be deleted (its id).
        deleted(int): a conversation was deleted (its id).
    """

    conversationSelected = Signal(int)
    newRequested = Signal()
    renamed = Signal(int)
    deleting = Signal(int)
    deleted = Signal(int)

    def __init__(self, store: ConversationStore, parent: QWidget | None = None):
        super().__init__(parent)
        self._store = store
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search conversations")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setAccessibleName("Search conversations")
        self.new_button = QPushButton("New conversation")
        self.new_button.clicked.connect(self.newRequested)
        self.model = ConversationListModel(store, self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setAccessibleName("Conversations")
        self.view.setEditTriggers(QListView.EditTrigger.DoubleClicked
                                  | QListView.EditTrigger.EditKeyPressed)
        self.model.renamed.connect(self._on_renamed_in_place)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.search_box.textChanged.connect(self._search)
        self.search_box.installEventFilter(self)  # Down and Enter reach the results; Esc clears
        self.no_matches = QLabel()
        self.no_matches.setObjectName("messageDetail")
        self.no_matches.setWordWrap(True)
        self.no_matches.hide()
        self.rename_button = QPushButton("Rename")
        self.rename_button.clicked.connect(self.rename_current)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_current)

        buttons = QHBoxLayout()
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search_box)
        layout.addWidget(self.no_matches)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self._selected_id: int | None = None

    @Slot(str)
    def _search(self, text: str) -> None:
        self.model.set_search(text)
        self._show_matches()

    def _show_matches(self) -> None:
        text = self.search_box.text()
        nothing = bool(text.strip()) and self.model.rowCount() == 0
        self.no_matches.setText(f"No conversation matches “{text.strip()}”. Esc clears the "
                                "search." if nothing else "")
        self.no_matches.setVisible(nothing)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        escape = (watched is self.search_box and event.type() in (QEvent.Type.ShortcutOverride,
                                                                 QEvent.Type.KeyPress)
                  and event.key() == Qt.Key.Key_Escape and bool(self.search_box.text()))
        if escape:  # Esc clears the search here (not the window's Esc, which stops an answer)
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.search_box.clear()
            return True
        if watched is self.search_box and event.type() == QEvent.Type.KeyPress:
            if event.key() == Qt.Key.Key_Down and self.model.rowCount():
                self.view.setFocus()
                self.view.setCurrentIndex(self.model.index(0))
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.model.rowCount():
                self.select(self.model.index(0).data(ConversationListModel.IdRole))
                return True
        return super().eventFilter(watched, event)

    def current_id(self) -> int | None:
        return self._selected_id

    def refresh(self) -> None:
        selected = self._selected_id
        self.model.refresh()
        self.select(selected, emit=False)
        self._show_matches()

    def forget(self) -> None:
        """Show no titles and no search (the window locked)."""
        self.search_box.blockSignals(True)
        self.search_box.clear()
        self.search_box.blockSignals(False)
        self.model.forget()

    def select(self, conversation_id: int | None, emit: bool = True) -> None:
        # Set first: _on_current_changed ignores the change it is about to see.
        self._selected_id = conversation_id
        row = self.model.row_of(conversation_id) if conversation_id is not None else -1
        self.view.setCurrentIndex(self.model.index(row) if row >= 0 else QModelIndex())
        if emit and conversation_id is not None:
            self.conversationSelected.emit(conversation_id)

    @Slot(QModelIndex, QModelIndex)
    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            conversation_id = current.data(ConversationListModel.IdRole)
            if conversation_id != self._selected_id:
                self._selected_id = conversation_id
                self.conversationSelected.emit(conversation_id)

    @Slot()
    def rename_current(self) -> None:
        """Edit the open conversation's title where it is shown (Enter keeps, Esc cancels)."""
        if self._selected_id is None:
            return
        row = self.model.row_of(self._selected_id)
        if row < 0:  # hidden by the search: show it again to edit it
            self.search_box.clear()
            row = self.model.row_of(self._selected_id)
        self.view.setFocus()
        self.view.edit(self.model.index(row))

    @Slot(int)
    def _on_renamed_in_place(self, conversation_id: int) -> None:
        # After the editor has closed: refreshing the rows under an open editor confuses it.
        QTimer.singleShot(0, lambda: (self.refresh(), self.renamed.emit(conversation_id)))

    def rename(self, conversation_id: int, title: str) -> None:
        try:
            self._store.rename(conversation_id, title)
        except ValueError as error:
            QMessageBox.warning(self, "Rename conversation", str(error))
            return
        self.refresh()
        self.renamed.emit(conversation_id)

    @Slot()
    def delete_current(self) -> None:
        if self._selected_id is None:
            return
        title = self._store.conversation(self._selected_id).title
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete conversation",
                          f"Delete “{title}” and all its messages? This cannot be undone.",
                          QMessageBox.StandardButton.Cancel, self)
        delete_button = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is delete_button:
            self.delete(self._selected_id)

    def delete(self, conversation_id: int) -> None:
        self.deleting.emit(conversation_id)  # what goes with it is removed (and recorded) first
        self._store.delete(conversation_id)
        if self._selected_id == conversation_id:
            self._selected_id = None
        self.model.refresh()
        self.deleted.emit(conversation_id)
