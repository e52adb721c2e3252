"""The "Answer from" list under the conversation: no documents, or one of the libraries
(`documents.library_choice` decides what choosing one does)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox

from strongroom.core.display import printable
from strongroom.core.documents.library import Library

NO_LIBRARY = "No documents"


class LibraryPicker(QComboBox):
    """Signals:
        chosen(object): the library answers draw on now (a `Library`, or None)."""

    chosen = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.setAccessibleName("Documents the answers draw on")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.currentIndexChanged.connect(lambda _i: self.chosen.emit(self.currentData()))

    def show_libraries(self, libraries: list[Library], described: dict[int, str]) -> None:
        """List ``libraries`` (keeping the one chosen, if it is still there); ``described``
        gives each library's documents, in words, for its tooltip."""
        current = self.currentData()
        self.blockSignals(True)
        self.clear()
        self.addItem(NO_LIBRARY, None)
        self.setItemData(0, "Answers come from the model alone", Qt.ItemDataRole.ToolTipRole)
        for library in libraries:
            self.addItem(printable(library.name), library)
            self.setItemData(self.count() - 1, described.get(library.id, ""),
                             Qt.ItemDataRole.ToolTipRole)
            if current is not None and library.id == current.id:
                self.setCurrentIndex(self.count() - 1)
        self.blockSignals(False)
        if self.currentData() != current:
            self.chosen.emit(self.currentData())

    def select(self, library: Library | None) -> None:
        for index in range(self.count()):
            data = self.itemData(index)
            if (data is None and library is None) or (data is not None and library is not None
                                                      and data.id == library.id):
                self.setCurrentIndex(index)
                return
