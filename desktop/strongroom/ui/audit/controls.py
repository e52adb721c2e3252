"""The audit viewer's controls above its table: the filter row (event, user, model, dates),
"was this prompt asked?", the validation row (the key, shown or hidden, a checkpoint, and
what to do with the result) and the banner that says what the last validation found.
Each row's first field has a mnemonic (Alt+F, Alt+S, Alt+V); Enter in a field does the
row's job. The viewer decides what the requests do."""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.core.audit import format as fmt
from strongroom.core.audit import keys as fmt_keys
from strongroom.core.audit.reader import EntryFilter


class ViewerControls(QWidget):
    """Signals:
        filterRequested(): filter by the row's fields (an event chosen, Enter, Filter).
        showAllRequested(): Show all.
        promptRequested(): look for the prompt typed.
        keyChanged(): the key typed changed (recorded text opens with it).
        validateRequested(): validate (Enter in the key or checkpoint field, Validate).
        firstBreakRequested(): go to the first break.
        exportRequested(): export the last report.
    """

    filterRequested = Signal()
    showAllRequested = Signal()
    promptRequested = Signal()
    keyChanged = Signal()
    validateRequested = Signal()
    firstBreakRequested = Signal()
    exportRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.event_filter = QComboBox()
        self.event_filter.setAccessibleName("Event")
        self.event_filter.addItem("All events", "")
        for event, words in fmt.EVENTS.items():
            self.event_filter.addItem(words, event)
            self.event_filter.setItemData(self.event_filter.count() - 1, event,
                                          Qt.ItemDataRole.ToolTipRole)  # the recorded name
        self.event_filter.currentIndexChanged.connect(lambda _index: self.filterRequested.emit())
        self.user_filter = QLineEdit()
        self.user_filter.setPlaceholderText("user")
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("model")
        for field in (self.user_filter, self.model_filter):
            field.returnPressed.connect(self.filterRequested)  # Enter filters
        self.use_dates = QCheckBox("From")
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.until = QDateEdit(QDate.currentDate())
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        apply = QPushButton("Filter")
        apply.clicked.connect(self.filterRequested)
        clear = QPushButton("Show all")
        clear.clicked.connect(self.showAllRequested)
        filters = QHBoxLayout()
        for widget in (self.event_filter, self.user_filter, self.model_filter, self.use_dates,
                       self.since, QLabel("to"), self.until, apply, clear):
            filters.addWidget(widget)

        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Was this prompt asked? Paste its exact text and press Enter; "
                                       "it is hashed here and never stored")
        ask = QPushButton("Find")
        ask.clicked.connect(self.promptRequested)
        self.prompt.returnPressed.connect(self.promptRequested)
        search = QHBoxLayout()
        search.addWidget(self.prompt, 1)
        search.addWidget(ask)

        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("Audit verification key")
        self.key.setPlaceholderText("audit verification key (optional; opens recorded text)")
        self.key.textChanged.connect(lambda _text: self.keyChanged.emit())
        self.key.returnPressed.connect(self.validateRequested)  # Enter validates
        self.show_key = QCheckBox("Sho&w")
        self.show_key.setToolTip("Show the key as typed, to check it against the printed one")
        self.show_key.toggled.connect(lambda shown: self.key.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password))
        self.checkpoint_path = QLineEdit()
        self.checkpoint_path.setPlaceholderText("checkpoint file (optional)")
        self.checkpoint_path.returnPressed.connect(self.validateRequested)
        choose = QPushButton("…")
        choose.clicked.connect(self.choose_checkpoint)
        self.validate_button = QPushButton("Validate")
        self.validate_button.clicked.connect(self.validateRequested)
        self.first_break_button = QPushButton("Go to first break")
        self.first_break_button.clicked.connect(self.firstBreakRequested)
        self.first_break_button.setEnabled(False)
        self.export_button = QPushButton("Export report…")
        self.export_button.clicked.connect(self.exportRequested)
        self.export_button.setEnabled(False)
        validation = QHBoxLayout()
        for widget in (self.key, self.show_key, self.checkpoint_path, choose,
                       self.validate_button, self.first_break_button, self.export_button):
            validation.addWidget(widget)

        self.banner = QLabel("Not validated yet.")
        self.banner.setObjectName("auditBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        for text, row, buddy in (("&Filter:", filters, self.event_filter),
                                 ("&Search:", search, self.prompt),
                                 ("&Validate:", validation, self.key)):
            label = QLabel(text)
            label.setBuddy(buddy)  # Alt+F, Alt+S, Alt+V reach the row's first field
            form.addRow(label, row)
        layout.addLayout(form)
        layout.addWidget(self.banner)

    def current_filter(self) -> EntryFilter:
        dates = self.use_dates.isChecked()
        return EntryFilter(
            event=self.event_filter.currentData() or "",
            user=self.user_filter.text().strip(),
            model=self.model_filter.text().strip(),
            since=self.since.date().toPython() if dates else None,
            until=self.until.date().toPython() if dates else None,
        )

    def typed_key(self) -> bytes | None:
        """The verification key typed, when it is one."""
        try:
            return fmt_keys.key_from_text(self.key.text()) if self.key.text().strip() else None
        except ValueError:
            return None

    @Slot()
    def choose_checkpoint(self) -> None:
        from pathlib import Path

        path, _ = QFileDialog.getOpenFileName(self, "Choose a checkpoint", str(Path.home()),
                                              "Checkpoints (*.json);;All files (*)")
        if path:
            self.checkpoint_path.setText(path)

    def show_banner(self, text: str, state: str) -> None:
        self.banner.setText(text)
        self.banner.setProperty("state", state)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
