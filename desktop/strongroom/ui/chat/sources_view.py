"""The sources under an answer drawn from a library: each a button ("[2] lease.pdf, page
14"), so Tab reaches it and Enter asks for its passage (`documents.passage_dialog` shows
it)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.display import printable
from strongroom.core.documents.retrieval import citation_label


class SourcesView(QWidget):
    """Signals:
        sourceRequested(object): open this citation's passage (the citation dict)."""

    sourceRequested = Signal(object)

    def __init__(self, citations: list[dict], searched_in: str | None = None, searched: int = 0,
                 unknown: list[int] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sources")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(0)
        where = f" — from {searched_in}" if searched_in else ""
        count = f", {searched} document{'s' if searched != 1 else ''} searched" if searched else ""
        title = QLabel(printable(f"Sources{where}{count}"))
        title.setTextFormat(Qt.TextFormat.PlainText)
        title.setObjectName("messageDetail")
        layout.addWidget(title)
        self.buttons: list[QPushButton] = []
        for citation in citations:
            button = QPushButton(citation_label(citation))
            button.setFlat(True)
            button.setObjectName("sourceLink")
            button.setToolTip("Show this passage in its document")
            button.setStyleSheet("text-align: left;")
            button.clicked.connect(lambda _=False, c=citation: self.sourceRequested.emit(c))
            layout.addWidget(button)
            self.buttons.append(button)
        self.warning: QLabel | None = None
        if unknown:
            cited = ", ".join(f"[{n}]" for n in unknown)
            self.warning = QLabel(f"The answer cites {cited}, which is not among its sources: "
                                  "that statement rests on nothing shown here.")
            self.warning.setObjectName("sourcesWarning")
            self.warning.setWordWrap(True)
            layout.addWidget(self.warning)
